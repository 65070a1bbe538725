"""Does the attention point at the word that decides the label? The synthetic keyword task, per encoder.

The label of each sentence is decided by one keyword at a random position among random filler words. After a
short training, each encoder is scored on held-out sentences: accuracy, and the share of sentences whose overall
attention map (Lin et al.'s rows summed and renormalised, what `embedder explain` shows) peaks on the keyword.
Compares the recurrent encoders with and without `word_residual`.

    python bench/attention_keyword.py            # prints a Markdown table (a few minutes on 2 cores)
    python bench/attention_keyword.py --quick    # pipeline check: 32 sentences, 1 epoch, one encoder
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

# The tests' keyword task itself (sentences, files, encoders, training settings), so the two cannot drift apart.
from tests.helpers.keyword_task import (  # noqa: E402
    KEYWORD_ENCODERS,
    keyword_config,
    keyword_sentences,
    write_tsv,
)

#: Every encoder, recurrent ones with and without `word_residual` (None: the transformer has no such setting).
VARIANTS = [("classic", False), ("classic", True), ("structured", False), ("structured", True), ("transformer", None)]
#: --quick: sentences per split and the encoders trained (one epoch each): a check of the script, not a result.
QUICK_SENTENCES = 32
QUICK_VARIANTS = [("structured", True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="32 sentences, 1 epoch, one encoder: a pipeline check")
    args = parser.parse_args(argv)

    from training.explain import explain_with_embedder
    from training.train import train

    counts = (QUICK_SENTENCES,) * 3 if args.quick else (480, 96, 100)
    variants = QUICK_VARIANTS if args.quick else VARIANTS
    quick = {"epochs": 1} if args.quick else {}
    test_rows = keyword_sentences(counts[2], args.seed + 2)
    texts = [text for _, text, _ in test_rows]
    print("| encoder | accuracy | attention peaks on the keyword | train s |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="attention-keyword-") as folder:
        files = {
            "train": write_tsv(f"{folder}/train.tsv", keyword_sentences(counts[0], args.seed)),
            "dev": write_tsv(f"{folder}/dev.tsv", keyword_sentences(counts[1], args.seed + 1)),
        }
        for architecture, residual in variants:
            encoder = dict(KEYWORD_ENCODERS[architecture])
            if residual is not None:
                encoder["word_residual"] = residual
            config = keyword_config(files, architecture, seed=args.seed, encoder=encoder, **quick)
            start = time.perf_counter()
            result = train(config, None, work_dir=f"{folder}/{architecture}-{residual}.run", verbose=0)
            seconds = time.perf_counter() - start
            predictions = result.embedder.predict(texts)
            accuracy = np.mean([p == label for p, (label, _, _) in zip(predictions, test_rows)])
            explanations = explain_with_embedder(result.embedder, texts)
            peaks = np.mean([np.argmax(e.overall) == pos for e, (_, _, pos) in zip(explanations, test_rows)])
            name = architecture if residual is None else f"{architecture}, word_residual={str(residual).lower()}"
            print(f"| {name} | {accuracy:.0%} | {peaks:.0%} | {seconds:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
