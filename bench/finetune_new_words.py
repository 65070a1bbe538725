"""New words when fine-tuning across domains: the unknown-token rate and accuracy with and without growing.

A structured encoder is trained briefly on TREC questions (GloVe-50d, the training words only), then fine-tuned on
a subset of SST-2 movie reviews three ways: keeping the source's vocabulary (``new_words=0``, what `finetune` did
before), growing it with new rows from GloVe mapped into the model's space (the default), and growing it with
every new row starting at the [UNK] row (``new_word_vectors=None``). Reports, per way and seed, the share of
[UNK] tokens in the fine-tuning and test texts and the SST-2 test accuracy (model selection on the SST-2 dev file).

Usage:
    python bench/finetune_new_words.py [--train-examples 2000] [--seeds 1]   # → docs/results/finetune-new-words.json
    python bench/finetune_new_words.py --first-seed 1 --seeds 2 --ways "keep the source vocabulary" \
        "grow, GloVe rows mapped (default)" --out docs/results/finetune-new-words-seeds-1-2.json
    python bench/finetune_new_words.py --quick --out /tmp/new-words.json   # pipeline check: tiny, no GloVe
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "results" / "finetune-new-words.json"

#: name → FinetuneConfig overrides.
WAYS = {
    "keep the source vocabulary": {"new_words": 0},
    "grow, GloVe rows mapped (default)": {},
    "grow, new rows at [UNK]": {"new_word_vectors": None},
}
SOURCE_ENCODER = {"embedding_dim": 50, "rnn_units": 64, "attention_units": 64, "attention_hops": 4, "dropout": 0.3}
#: --quick: a check of the script, not a result: a tiny encoder, no GloVe, 32 examples, one epoch each.
QUICK = {
    "encoder": {"embedding_dim": 8, "rnn_units": 8, "attention_units": 8, "attention_hops": 2, "dropout": 0.0},
    "head": {"hidden_layers": 0, "dropout": 0.0},
    "train_examples": 32,
    "ways": ["keep the source vocabulary", "grow, new rows at [UNK]"],
}


def subset(path: Path, rows: int, out: Path) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[: rows + 1]), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-examples", type=int, help="SST-2 training examples used (default 2000)")
    parser.add_argument("--source-epochs", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run: first-seed, ..., first-seed + seeds - 1")
    parser.add_argument("--ways", nargs="+", choices=tuple(WAYS), help="default: all (--quick: the two without GloVe)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, help=f"default: {OUT.relative_to(ROOT)} (--quick: required)")
    parser.add_argument("--quick", action="store_true", help="tiny encoder, no GloVe, 32 examples: a pipeline check")
    args = parser.parse_args(argv)
    if args.quick and args.out is None:
        parser.error("--quick needs --out (its numbers are not results: they never replace the stored ones)")
    args.out = args.out or OUT
    args.ways = args.ways or (QUICK["ways"] if args.quick else list(WAYS))
    args.train_examples = args.train_examples or (QUICK["train_examples"] if args.quick else 2000)
    head = QUICK["head"] if args.quick else {"hidden_units": 128, "dropout": 0.5}

    from embedder.sentence_embedder import SentenceEmbedder
    from training.config import FinetuneConfig, TrainConfig
    from training.data import read_labelled
    from training.evaluate import evaluate_classifier
    from training.finetune import finetune
    from training.train import train
    from training.vocabulary_growth import unknown_rate

    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="finetune-new-words-") as temporary:
        work = Path(temporary)
        source_config = TrainConfig(
            architecture="structured",
            train_path=str(args.data / "trec" / "train.tsv"),
            encoder=QUICK["encoder"] if args.quick else SOURCE_ENCODER,
            head=head,
            max_length=40,
            word_vectors=None if args.quick else "glove-50d",
            epochs=args.source_epochs,
            learning_rate=2e-3,
            seed=0,
        )
        source = train(source_config, work / "trec", work_dir=work / "trec.run", verbose=2)
        train_path = subset(args.data / "sst2" / "train.tsv", args.train_examples, work / "sst2-train.tsv")
        test_path = args.data / "sst2" / "test.tsv"
        test_texts = list(read_labelled(test_path).texts)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for way in args.ways:
                overrides = WAYS[way]
                config = FinetuneConfig(
                    **{
                        "source": str(source.version_dir),
                        "train_path": str(train_path),
                        "dev_path": str(args.data / "sst2" / "dev.tsv"),
                        "head": head,
                        "epochs": args.epochs,
                        "learning_rate": 2e-3,
                        "few_shot_iterations": 0,  # plain fine-tuning, as measured (its small quick runs included)
                        "new_word_min_count": 2,
                        "seed": seed,
                        **overrides,
                    }
                )
                out = work / f"sst2-{seed}-{len(rows)}"
                result = finetune(config, out, verbose=2)
                tuned = SentenceEmbedder.load(result.version_dir)
                report = evaluate_classifier(tuned, test_path)
                row = {
                    "way": way,
                    "seed": seed,
                    "test_accuracy": report.accuracy,
                    "test_macro_f1": report.macro_f1,
                    "dev_accuracy": result.dev_score,
                    "best_epoch": result.best_epoch,
                    "train_unknown_rate_before": result.extra["unknown_rate_before"],
                    "train_unknown_rate_after": result.extra["unknown_rate_after"],
                    "test_unknown_rate": unknown_rate(tuned.preprocessor, test_texts),
                    "new_words": result.extra["new_words"],
                    "new_words_from_vectors": result.extra["new_words_from_vectors"],
                    "word_vector_map_r2": result.extra["word_vector_map_r2"],
                    "train_wall_s": result.wall_time_s,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    document = {
        "command": " ".join(sys.argv),
        "quick": args.quick,
        "source": {"settings": source_config.to_dict(), "trec_dev_accuracy": source.dev_score},
        "sst2_train_examples": args.train_examples,
        "rows": rows,
        "total_wall_s": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1), encoding="utf-8")
    print(f"\nTREC source (dev accuracy {source.dev_score:.3f}) → SST-2, {args.train_examples} training examples")
    print("| fine-tuning | SST-2 test accuracy % | [UNK] share, train texts | [UNK] share, test texts | new words |")
    print("|---|---|---|---|---|")
    for way in args.ways:
        mine = [r for r in rows if r["way"] == way]
        accuracies = [100 * r["test_accuracy"] for r in mine]
        spread = f" ± {statistics.stdev(accuracies):.1f}" if len(accuracies) > 1 else ""
        print(
            f"| {way} | {statistics.mean(accuracies):.1f}{spread} | {100 * mine[0]['train_unknown_rate_after']:.1f} % "
            f"| {100 * mine[0]['test_unknown_rate']:.1f} % | {mine[0]['new_words']} "
            f"({mine[0]['new_words_from_vectors']} from GloVe) |"
        )
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
