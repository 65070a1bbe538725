import gzip

import pytest

from training.distill.corpus import build_corpus, fingerprint, read_texts


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_text_gzip_and_tsv_columns(tmp_path):
    plain = write(tmp_path / "a.txt", "first text\n\n  \nsecond text\n")
    zipped = tmp_path / "b.txt.gz"
    with gzip.open(zipped, "wt", encoding="utf-8") as handle:
        handle.write("zipped one\nzipped two\n")
    pairs = write(tmp_path / "pairs.tsv", "score\tsentence1\tsentence2\n3.0\tleft a\tright a\n")
    labelled = write(tmp_path / "l.tsv.gz", "")
    with gzip.open(labelled, "wt", encoding="utf-8") as handle:
        handle.write("label\ttext\npos\ta fine film\n")
    assert list(read_texts(plain)) == ["first text", "second text"]
    assert list(read_texts(zipped)) == ["zipped one", "zipped two"]
    assert list(read_texts(pairs)) == ["left a", "right a"]
    assert list(read_texts(labelled)) == ["a fine film"]


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        list(read_texts(tmp_path / "missing.txt"))
    no_text = write(tmp_path / "x.tsv", "label\tbody\npos\thello\n")
    with pytest.raises(ValueError, match=r"none of the text columns.*'label', 'body'"):
        list(read_texts(no_text))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nnot \xff utf-8\n")
    with pytest.raises(ValueError, match="line 2 is not valid UTF-8"):
        list(read_texts(bad))


def test_build_corpus_splits_dedupes_and_excludes(tmp_path):
    corpus_file = write(
        tmp_path / "c.txt",
        "The cat sat. The dog ran! A held out sentence.\nthe  CAT sat.\nOk\nAnother line here.\n",
    )
    evaluation = write(tmp_path / "dev.tsv", "score\tsentence1\tsentence2\n1\ta held OUT sentence.\tunrelated\n")
    corpus = build_corpus([corpus_file], exclude=[evaluation])
    assert corpus.sentences == ["The cat sat.", "The dog ran!", "Another line here."]
    assert (corpus.excluded, corpus.duplicates) == (1, 1)  # "Ok" is below min_words
    assert corpus.per_file == {str(corpus_file): 3}
    assert corpus.fingerprint == fingerprint(corpus.sentences)


def test_samples_are_seeded_and_keep_file_order(tmp_path):
    lines = [f"sentence number {i}" for i in range(50)]
    corpus_file = write(tmp_path / "c.txt", "\n".join(lines))
    first = build_corpus([corpus_file], max_per_file=10, seed=1)
    again = build_corpus([corpus_file], max_per_file=10, seed=1)
    other = build_corpus([corpus_file], max_per_file=10, seed=2)
    assert first.sentences == again.sentences != other.sentences
    assert len(first) == 10 and first.sentences == sorted(first.sentences, key=lines.index)
    assert len(build_corpus([corpus_file], max_sentences=7)) == 7
    with pytest.raises(ValueError, match="Received: max_per_file=0"):
        build_corpus([corpus_file], max_per_file=0)
