"""How much of a long-document task the first N tokens hold: the TF-IDF floor of `bench/compare.py` on truncated text.

The encoders of the comparison read only the first `max_length` words of each text (20 Newsgroups: 256). This
script cuts train and test texts to the first N words with the encoders' own word splitter
(`embedder.text_preprocessor.split_words`) and trains `bench/compare.py`'s TF-IDF + logistic-regression floor on
them, so the cost of the truncation is measured apart from the cost of the encoder.

Usage:
    python bench/tfidf_truncation.py [--dataset 20ng] [--lengths 64 128 256 0]   # 0: whole texts
    python bench/tfidf_truncation.py --data DIR --dataset trec --lengths 4 0     # another data tree (the tests')
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compare import DATA, tfidf_floor  # noqa: E402
from training.data import LabelledExamples, write_labelled  # noqa: E402

SPLITS = ("train", "test")


def split_texts(dataset: str, longest: int, data: Path = DATA) -> dict:
    """Per split of `dataset`: (labels, each text's first `longest` words), read and split once for every length."""
    import tensorflow as tf

    from embedder.text_preprocessor import split_words
    from training.data import read_labelled

    result = {}
    for split in SPLITS:
        examples = read_labelled(data / dataset / f"{split}.tsv")
        result[split] = (examples.labels, split_words(tf.constant(list(examples.texts)), max_length=longest).to_list())
    return result


def truncated_files(dataset: str, words: dict, length: int, folder: Path, data: Path = DATA) -> dict:
    """train/test TSVs of `dataset` with every text cut to its first `length` words (0: the original files)."""
    if not length:
        return {split: data / dataset / f"{split}.tsv" for split in SPLITS}
    files = {}
    for split, (labels, rows) in words.items():
        texts = tuple(b" ".join(row[:length]).decode() for row in rows)
        files[split] = write_labelled(LabelledExamples(texts, tuple(labels)), folder / f"{split}-{length}.tsv")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="20ng")
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128, 256, 0])
    parser.add_argument("--data", type=Path, default=DATA, help="the data tree (DATASET/{train,test}.tsv)")
    args = parser.parse_args(argv)
    words = split_texts(args.dataset, max(args.lengths), args.data) if any(args.lengths) else {}
    with tempfile.TemporaryDirectory(prefix="tfidf-truncation-") as folder:
        for length in args.lengths:
            row = tfidf_floor(truncated_files(args.dataset, words, length, Path(folder), args.data))
            print(
                json.dumps(
                    {
                        "dataset": args.dataset,
                        "words": length or "all",
                        "test_accuracy": round(row["test_accuracy"], 4),
                        "train_wall_s": round(row["train_wall_s"], 1),
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
