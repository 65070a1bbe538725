"""bench/client_cold_start.py: the light client's script in a fresh process against a served tiny model; the plot."""

from __future__ import annotations

import numpy as np
import pytest

from bench import client_cold_start


def test_light_client_measurement_reports_its_vectors(tiny_server, exported_models):
    embedder, _ = exported_models["structured"]
    run = client_cold_start.measure("light", tiny_server("bench"), "bench")  # the bench's default model name
    assert run["client"] == "light" and run["shape"] == [len(client_cold_start.SENTENCES), embedder.embedding_dim]
    expected = np.abs(embedder.encode(client_cold_start.SENTENCES)).sum()
    assert run["checksum"] == pytest.approx(expected, rel=1e-4)  # the served vectors, summed
    assert 0 < run["imported"] < run["seconds"] and run["peak_rss_mb"] > 10


def test_plot_shows_time_and_memory(tmp_path):
    summary = {"light": {"seconds": 0.5, "peak_rss_mb": 60.0}, "tf-serving-apis": {"seconds": 5.0, "peak_rss_mb": 600}}
    client_cold_start.plot(summary, 0.1, 0.1, tmp_path / "plots" / "cold.png")
    assert (tmp_path / "plots" / "cold.png").stat().st_size > 1000
