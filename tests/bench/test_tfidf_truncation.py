"""bench/tfidf_truncation.py on generated data: texts cut to N words with the encoders' splitter, one row per N."""

from __future__ import annotations

import json

from bench import tfidf_truncation
from tests.helpers.bench_data import write_bench_data


def test_rows_per_length_on_truncated_texts(tmp_path, capsys):
    data = write_bench_data(tmp_path / "data")
    assert tfidf_truncation.main(["--data", str(data), "--dataset", "trec", "--lengths", "1", "0"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["dataset"], r["words"]) for r in rows] == [("trec", 1), ("trec", "all")]
    # Whole texts hold the keyword, which TF-IDF learns; the first word rarely is the keyword (it sits anywhere).
    assert rows[1]["test_accuracy"] > rows[0]["test_accuracy"] + 0.2


def test_truncated_files_keep_the_labels_and_the_first_words(tmp_path):
    data = write_bench_data(tmp_path / "data")
    words = tfidf_truncation.split_texts("trec", 3, data)
    files = tfidf_truncation.truncated_files("trec", words, 2, tmp_path, data)
    original = (data / "trec" / "test.tsv").read_text().splitlines()[1:]
    cut = files["test"].read_text().splitlines()
    assert cut[0] == "label\ttext" and len(cut) == len(original) + 1
    for before, after in zip(original, cut[1:]):
        label, text = before.split("\t")
        assert after == f"{label}\t{' '.join(text.split()[:2])}"
