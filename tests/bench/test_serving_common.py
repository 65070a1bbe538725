"""bench/serving_common.py: the serving benches' sentences, results files, and how they see a server is up."""

from __future__ import annotations

import json
import logging

from bench import serving_common
from tests.helpers.bench_data import write_bench_data


def test_sentences_are_the_text_column(tmp_path, monkeypatch):
    data = write_bench_data(tmp_path)
    monkeypatch.setattr(serving_common, "SST2", data / "sst2")
    lines = (data / "sst2" / "dev.tsv").read_text().splitlines()[1:]
    assert serving_common.sentences("dev") == [line.split("\t")[1] for line in lines]


def test_save_results_writes_the_json_and_the_plot_where_asked(tmp_path):
    drawn = []
    results = {"ratio": 1.5}
    json_path, plot_path = tmp_path / "a" / "r.json", tmp_path / "b" / "r.png"
    serving_common.save_results(results, json_path, plot_path, lambda r, p: drawn.append((r, p)))
    assert (
        json.loads(json_path.read_text()) == results and drawn == [(results, plot_path)] and plot_path.parent.is_dir()
    )
    serving_common.save_results(results, None, None, lambda r, p: drawn.append(p))
    assert len(drawn) == 1


def test_the_ready_line_is_what_the_server_logs(tiny_server, caplog):
    with caplog.at_level(logging.INFO, logger="serving.server.model_server"):
        target = tiny_server("ready-line")
    found = [m[1] for r in caplog.records if (m := serving_common.READY_LINE.search(r.getMessage()))]
    assert found == [target]


def test_shipped_export_is_made_again_when_the_shipped_weights_or_the_export_code_change(tmp_path, monkeypatch):
    from embedder import pretrained

    shipped = {"files": {pretrained.WEIGHTS_FILE: "first weights"}}  # the hash the shipped config records
    exports = []

    def export(name, base, version):
        (base / str(version)).mkdir(parents=True)
        (base / str(version) / "weights").write_text(shipped["files"][pretrained.WEIGHTS_FILE])
        exports.append(name)

    monkeypatch.setattr(pretrained, "read_config", lambda name: shipped)
    monkeypatch.setattr(pretrained, "export", export)
    work = tmp_path / "work"
    first = serving_common.shipped_export("default", work)
    assert serving_common.shipped_export("default", work) == first and exports == ["default"]  # reused
    shipped["files"][pretrained.WEIGHTS_FILE] = "re-shipped weights"
    again = serving_common.shipped_export("default", work)
    assert exports == ["default", "default"] and (again / "weights").read_text() == "re-shipped weights"
    assert serving_common.shipped_export("default", work) == again and len(exports) == 2
    monkeypatch.setattr(serving_common, "export_code_hash", lambda: "a new serving graph")
    serving_common.shipped_export("default", work)
    assert len(exports) == 3
