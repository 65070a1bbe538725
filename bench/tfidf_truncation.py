"""How much of a long-document task the first N tokens hold: the TF-IDF floor of `bench/compare.py` on truncated text.

The encoders of the comparison read only the first `max_length` words of each text (20 Newsgroups: 256). This
script cuts train and test texts to the first N words with the encoders' own word splitter
(`embedder.text_preprocessor.split_words`) and trains `bench/compare.py`'s TF-IDF + logistic-regression floor on
them, so the cost of the truncation is measured apart from the cost of the encoder.

Usage:
    python bench/tfidf_truncation.py [--dataset 20ng] [--lengths 64 128 256 0]   # 0: whole texts
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compare import DATA, tfidf_floor  # noqa: E402


def truncated_files(dataset: str, length: int, folder: Path) -> dict:
    """train/test TSVs of `dataset` with every text cut to its first `length` words (0: unchanged)."""
    import tensorflow as tf

    from embedder.text_preprocessor import split_words
    from training.data import read_labelled

    files = {}
    for split in ("train", "test"):
        source = DATA / dataset / f"{split}.tsv"
        if not length:
            files[split] = source
            continue
        examples = read_labelled(source)
        words = split_words(tf.constant(list(examples.texts)), max_length=length).to_list()
        path = folder / f"{split}-{length}.tsv"
        rows = (f"{label}\t{b' '.join(row).decode()}\n" for label, row in zip(examples.labels, words))
        path.write_text("label\ttext\n" + "".join(rows), encoding="utf-8")
        files[split] = path
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="20ng")
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128, 256, 0])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tfidf-truncation-") as folder:
        for length in args.lengths:
            row = tfidf_floor(truncated_files(args.dataset, length, Path(folder)))
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
