"""`bench/finetune_new_words.py --quick` on generated data: a source model, then fine-tuning with and without growth."""

from __future__ import annotations

import json

import pytest

from bench import finetune_new_words as bench
from tests.helpers.bench_data import write_bench_data

pytestmark = pytest.mark.slow


@pytest.mark.usefixtures("eager_functions")
def test_quick_run_grows_the_vocabulary_with_the_new_domains_words(tmp_path, capsys):
    data = write_bench_data(tmp_path / "data")  # its sst2 texts use fillers that trec's never do
    out = tmp_path / "new-words.json"
    way = "grow, new rows at [UNK]"  # one way of the quick run's two keeps the test short
    assert bench.main(["--quick", "--data", str(data), "--out", str(out), "--ways", way]) == 0
    document = json.loads(out.read_text())
    assert document["quick"] and document["sst2_train_examples"] == bench.QUICK["train_examples"]
    [row] = document["rows"]
    assert row["way"] == way and row["new_words"] > 0 and 0.0 <= row["test_accuracy"] <= 1.0
    # Before growing, the fillers are unknown (most of each text); after, only words seen once stay unknown.
    assert row["train_unknown_rate_before"] > 0.3 and row["train_unknown_rate_after"] < row["train_unknown_rate_before"]
    assert row["test_unknown_rate"] < row["train_unknown_rate_before"]
    assert f"| {way} |" in capsys.readouterr().out


def test_quick_needs_an_output_path_of_its_own():
    with pytest.raises(SystemExit):
        bench.main(["--quick"])
