"""bench/serving_overhead.py: the alternating timer and the plot (`--quick` runs the whole script in a minute)."""

from __future__ import annotations

from bench import serving_overhead


def test_alternating_calls_rotate_who_goes_first_and_time_every_call():
    order = []
    calls = {name: (lambda batch, name=name: order.append((name, batch))) for name in ("a", "b", "c")}
    times = serving_overhead.alternating_calls(calls, [["x"], ["y"]], seconds=0.0)  # each goes first once
    assert [name for name, _ in order] == list("abcbcacab")
    assert [batch for _, batch in order] == [["x"]] * 3 + [["y"]] * 3 + [["x"]] * 3  # a turn shares one batch
    assert {name: len(t) for name, t in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0.0 for ts in times.values() for t in ts)


def test_plot_draws_the_three_ways_per_batch_size(tmp_path):
    row = {"in_process": 100.0, "client": 96.0, "stub": 98.0, "client_ratio": 0.96, "stub_ratio": 0.98}
    serving_overhead.plot({1: row, 64: row}, tmp_path / "overhead.png")
    assert (tmp_path / "overhead.png").stat().st_size > 1000


def test_the_benchmarks_tables_are_the_results_json_rendered():
    import json
    from pathlib import Path

    from bench.doc_markers import section

    root = Path(serving_overhead.__file__).resolve().parents[1]
    for name in ("default", "smallest"):
        results = json.loads((root / "docs" / "results" / f"serving-overhead-{name}.json").read_text())
        begin = f"<!-- overhead-{name}:begin (from docs/results/serving-overhead-{name}.json; tests compare) -->"
        assert section(root / "docs" / "BENCHMARKS.md", begin, f"<!-- overhead-{name}:end -->") == (
            serving_overhead.table(results)
        )


def test_table_rows_follow_the_batch_sizes_numerically():
    row = {
        "in_process": 100.0,
        "client": 96.0,
        "stub": 98.0,
        "client_ratio": 0.96,
        "stub_ratio": 0.98,
        "client_overhead_ms": 0.4,
        "stub_overhead_ms": 0.2,
    }
    lines = serving_overhead.table({"256": row, "1": row, "64": row}).splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| 1", "| 64", "| 256"]
    assert "**0.96**, +0.40 ms" in lines[2]
