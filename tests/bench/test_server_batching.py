"""bench/server_batching.py: its callers (both kinds) against a served tiny model, the model-alone ceiling, the plot."""

from __future__ import annotations

import time

import pytest

from bench import server_batching
from bench.serving_common import QUICK_SENTENCES


@pytest.mark.parametrize("caller_kind", ["client", "stub"])
def test_callers_embed_one_sentence_at_a_time_until_the_phase_ends(tiny_server, caller_kind):
    target = tiny_server("default")  # the name the bench serves its model under
    latencies, failures, cpu = server_batching.run_callers(
        target, 0, 2, seconds=0.3, start_at=time.time(), texts=QUICK_SENTENCES, caller_kind=caller_kind
    )
    assert failures == [] and len(latencies) >= 2 and all(0 < s < 60 for s in latencies) and cpu >= 0


def test_model_only_ceiling_times_both_ways(tiny_version_dir):
    ceiling = server_batching.model_only_ceiling(tiny_version_dir, QUICK_SENTENCES, callers=2, seconds=0.1)
    assert ceiling["concurrent_single_sentence"] > 0 and ceiling["batched"] > 0
    assert ceiling["ratio"] == pytest.approx(ceiling["batched"] / ceiling["concurrent_single_sentence"])


def test_plot_shows_throughput_and_batch_sizes(tmp_path):
    mode = {"throughput": 100.0, "p50_ms": 5.0, "p99_ms": 9.0, "batch_sizes": {1: 3, 8: 40}}
    server_batching.plot({"off": mode, "on": mode, "ratio": 1.0}, tmp_path / "batching.png")
    assert (tmp_path / "batching.png").stat().st_size > 1000
