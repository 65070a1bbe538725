import json

import pytest

from training.data import (
    DataError,
    LabelledExamples,
    check_dev_labels,
    read_labelled,
    read_pairs,
    split_holdout,
)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_reads_tsv_csv_and_jsonl_alike(tmp_path):
    rows = [("pos", "a good film"), ("neg", 'a "bad", long film')]
    tsv = write(tmp_path / "d.tsv", "label\ttext\n" + "".join(f"{lab}\t{t}\n" for lab, t in rows))
    csv = write(tmp_path / "d.csv", 'label,text\npos,a good film\nneg,"a ""bad"", long film"\n')
    jsonl = write(tmp_path / "d.jsonl", "".join(json.dumps({"label": lab, "text": t}) + "\n" for lab, t in rows))
    expected = LabelledExamples(("a good film", 'a "bad", long film'), ("pos", "neg"))
    for path in (tsv, csv, jsonl):
        assert read_labelled(path) == expected, path.suffix


def test_texts_longer_than_the_csv_modules_field_limit(tmp_path):
    # Whole 20 Newsgroups posts run past the csv module's default 128 KiB field limit.
    long = "word " * 60_000
    tsv = write(tmp_path / "d.tsv", f"label\ttext\nx\t{long}\ny\tshort\n")
    csv = write(tmp_path / "d.csv", f'label,text\nx,"{long}"\ny,short\n')
    for path in (tsv, csv):
        assert read_labelled(path).texts == (long, "short"), path.suffix


def test_selectable_columns_and_explicit_format(tmp_path):
    path = write(tmp_path / "data.txt", "id,sentence,category\n1,hello there,greeting\n")
    examples = read_labelled(path, text_column="sentence", label_column="category", file_format="csv")
    assert examples.texts == ("hello there",) and examples.labels == ("greeting",)


def test_missing_column_names_the_column_and_what_is_there(tmp_path):
    path = write(tmp_path / "d.tsv", "label\tsentence\npos\tgood\n")
    with pytest.raises(DataError, match=r"no column 'text' in the header; found 'label', 'sentence'"):
        read_labelled(path)


@pytest.mark.parametrize("content", ["", "label\ttext\n", "label\ttext\n\n  \n"])
def test_empty_file(tmp_path, content):
    path = write(tmp_path / "d.tsv", content)
    with pytest.raises(DataError, match="holds no examples"):
        read_labelled(path)


def test_non_utf8_line_reports_its_line_number(tmp_path):
    path = write(tmp_path / "d.tsv", b"label\ttext\npos\tfine\nneg\tcaf\xe9 au lait\npos\tok\n")
    with pytest.raises(DataError, match=r"d.tsv, line 3: not valid UTF-8 \(byte 0xe9"):
        read_labelled(path)


def test_label_only_in_dev(tmp_path):
    train = LabelledExamples(("a", "b"), ("pos", "neg"))
    dev = LabelledExamples(("c", "d"), ("pos", "neutral"))
    with pytest.raises(DataError, match=r"label\(s\) 'neutral' appear only in the dev data"):
        check_dev_labels(train, dev, "dev.tsv")
    check_dev_labels(train, LabelledExamples(("c",), ("neg",)))  # a subset is fine


@pytest.mark.parametrize(
    "content, message",
    [
        ("label\ttext\n\tno label\n", r"line 2: empty label"),
        ("label\ttext\npos\n", r"line 2: 1 field\(s\) where the header has 2"),
    ],
)
def test_bad_rows(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        read_labelled(write(tmp_path / "d.tsv", content))


def test_bad_jsonl_line(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"label": "a", "text": "x"}\n{"label": "b", \n')
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        read_labelled(path)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot tell the format"):
        read_labelled(write(tmp_path / "d.xlsx", "x"))
    with pytest.raises(DataError, match="no such file"):
        read_labelled(tmp_path / "absent.tsv")


def test_pairs(tmp_path):
    path = write(tmp_path / "p.tsv", "score\tsentence1\tsentence2\n4.5\ta cat\ta kitten\n0\tsun\train\n")
    pairs = read_pairs(path)
    assert pairs.scores == (4.5, 0.0) and pairs.first == ("a cat", "sun") and pairs.second == ("a kitten", "rain")
    with pytest.raises(DataError, match=r"line 2: the score 'high' in column 'score' is not a number"):
        read_pairs(write(tmp_path / "q.tsv", "score\tsentence1\tsentence2\nhigh\ta\tb\n"))


def test_holdout_is_seeded_stratified_and_disjoint():
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    examples = LabelledExamples(tuple(f"text {i}" for i in range(100)), tuple(labels))
    train, dev = split_holdout(examples, fraction=0.2, seed=3)
    again = split_holdout(examples, fraction=0.2, seed=3)
    other = split_holdout(examples, fraction=0.2, seed=4)
    assert (train, dev) == again and dev != other[1]
    assert sorted(train.texts + dev.texts) == sorted(examples.texts)
    assert sorted(dev.labels) == ["a"] * 12 + ["b"] * 6 + ["c"] * 2
    with pytest.raises(ValueError, match=r"argument `fraction`.*Received: fraction=1.5"):
        split_holdout(examples, fraction=1.5)


def test_write_labelled_round_trips_and_refuses_what_tsv_cannot_hold(tmp_path):
    from training.data import LabelledExamples, write_labelled

    examples = LabelledExamples(("a café", "b 'quoted' \"text\""), ("x", "y"))
    assert read_labelled(write_labelled(examples, tmp_path / "out.tsv")) == examples
    with pytest.raises(DataError, match="holds a tab or a line break"):
        write_labelled(LabelledExamples(("two\tcolumns",), ("x",)), tmp_path / "bad.tsv")
