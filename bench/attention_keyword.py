"""Does the attention point at the word that decides the label? The synthetic keyword task, per encoder.

The label of each sentence is decided by one keyword at a random position among random filler words. After a
short training, each encoder is scored on held-out sentences: accuracy, and the share of sentences whose overall
attention map (Lin et al.'s rows summed and renormalised, what `embedder explain` shows) peaks on the keyword.
Compares the recurrent encoders with and without `word_residual`.

    python bench/attention_keyword.py            # prints a Markdown table (a few minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

KEYWORDS = {"apple": "fruit", "tiger": "animal", "violin": "music"}
FILLERS = [f"w{i}" for i in range(40)]
ENCODERS = {
    "classic": dict(embedding_dim=16, rnn_units=16, attention_units=16, dropout=0.0),
    "structured": dict(embedding_dim=16, rnn_units=16, attention_units=16, attention_hops=2, dropout=0.0),
    "transformer": dict(hidden_dim=16, num_heads=2, num_layers=1, intermediate_dim=32, dropout=0.0),
}


def sentences(count: int, seed: int) -> list[tuple[str, str, int]]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        keyword = str(rng.choice(list(KEYWORDS)))
        words = [str(w) for w in rng.choice(FILLERS, size=rng.integers(10, 20))]
        position = int(rng.integers(0, len(words) + 1))
        words.insert(position, keyword)
        rows.append((KEYWORDS[keyword], " ".join(words), position))
    return rows


def write(path: str, rows) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text, _ in rows))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from training.config import TrainConfig
    from training.explain import explain_with_embedder
    from training.train import train

    folder = tempfile.mkdtemp()
    train_path = write(f"{folder}/train.tsv", sentences(480, args.seed))
    dev_path = write(f"{folder}/dev.tsv", sentences(96, args.seed + 1))
    test_rows = sentences(100, args.seed + 2)
    texts = [text for _, text, _ in test_rows]
    variants = [
        ("classic", False),
        ("classic", True),
        ("structured", False),
        ("structured", True),
        ("transformer", None),
    ]
    print("| encoder | accuracy | attention peaks on the keyword | train s |\n|---|---|---|---|")
    for architecture, residual in variants:
        encoder = dict(ENCODERS[architecture])
        if residual is not None:
            encoder["word_residual"] = residual
        config = TrainConfig(
            architecture=architecture,
            train_path=train_path,
            dev_path=dev_path,
            encoder=encoder,
            head={"hidden_layers": 0, "dropout": 0.0},
            max_length=24,
            batch_size=16,
            epochs=6,
            learning_rate=3e-3,
            patience=0,
            seed=args.seed,
        )
        start = time.perf_counter()
        result = train(config, None, work_dir=f"{folder}/{architecture}-{residual}.run", verbose=0)
        seconds = time.perf_counter() - start
        predictions = result.embedder.predict(texts)
        accuracy = np.mean([p == label for p, (label, _, _) in zip(predictions, test_rows)])
        explanations = explain_with_embedder(result.embedder, texts)
        peaks = np.mean([np.argmax(e.overall) == pos for e, (_, _, pos) in zip(explanations, test_rows)])
        name = architecture if residual is None else f"{architecture}, word_residual={str(residual).lower()}"
        print(f"| {name} | {accuracy:.0%} | {peaks:.0%} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
