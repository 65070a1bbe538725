"""bench/corpus_throughput.py: each measurement (worker) on a tiny corpus and model, the corpus builder, the report."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from bench import corpus_throughput as bench
from tests.helpers.bench_data import write_bench_data

LINES = 40


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus-bench")
    data = write_bench_data(folder / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench, "TREC", data / "trec")
        bench.make_corpus(folder / "corpus.txt", LINES)
    return folder / "corpus.txt"


def test_the_corpus_cycles_trecs_questions(corpus):
    lines = corpus.read_text().splitlines()
    texts = [
        line.split("\t")[1] for line in (corpus.parent / "data" / "trec" / "train.tsv").read_text().splitlines()[1:]
    ]
    assert len(lines) == LINES and lines == texts[:LINES]


@pytest.mark.parametrize("mode", ["model-alone", "job-in-process", "job-grpc"])
def test_each_measurement_embeds_every_line(mode, corpus, tiny_version_dir, tiny_server, tmp_path):
    target = tiny_server("bench") if mode == "job-grpc" else None  # the name the bench serves its model under
    args = argparse.Namespace(mode=mode, corpus=str(corpus), out=str(tmp_path / "out"), model=str(tiny_version_dir))
    report = bench.worker(argparse.Namespace(**vars(args), target=target))
    assert report["lines"] == LINES and report["seconds"] > 0 and report["cpu_s"] >= 0
    if mode == "model-alone":
        assert report["seconds"] == min(report["sequential_s"], report["two_threads_s"])
        return
    from serving.corpus.output_reader import read_corpus_output

    assert np.asarray(read_corpus_output(tmp_path / "out").embeddings).shape[0] == LINES
    assert report["peak_rss_anon_mib"] >= report["median_rss_anon_mib"] > 0
    assert len(report["quarter_medians_rss_anon_mib"]) == 4


def test_report_prints_every_round_against_the_model_alone(capsys):
    def run(speed, rss=100.0):
        return {"lines_per_s": speed, "lines_per_cpu_s": speed / 2, "peak_rss_anon_mib": rss,
                "quarter_medians_rss_anon_mib": [rss] * 4}  # fmt: skip

    runs = {"alone-0": run(100), "alone-1": run(300), "alone-2": run(100)}
    for name in ("in-process", "served"):
        runs |= {f"{name}-0": run(160), f"{name}-1": run(200), f"{name}-small": run(0, 50), f"{name}-long": run(0)}
    bench.report(runs, argparse.Namespace(rounds=2, lines=1000, small=10, long=3000))
    out = capsys.readouterr().out
    # Each job against the mean of the model-alone runs around it: 160 / 200 and 200 / 200.
    assert "| job, in-process (`--saved-model`) | 160 | 200 | 0.80 / 1.00 | **0.90** |" in out
    assert "| job, served (client process), peak | 50 MiB | 100 MiB | **2.00** |" in out
