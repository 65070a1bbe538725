"""Few-shot fine-tuning as SetFit does it (Tunstall et al. 2022): a contrastive stage on pairs built from the labels,
then the classifier.

With few labelled examples a classifier head has little to learn from, but the pairs of those examples are many:
n examples give n² pairs. SetFit's first stage trains the sentence encoder so that two sentences of the same class
have cosine similarity 1 and two of different classes 0 (Sentence-BERT's CosineSimilarityLoss), on pairs sampled
from the labels: for each of `iterations` rounds, every training example is paired once with a random example of
its class (a positive pair) and once with a random example of another class (a negative pair). The second stage is
the ordinary `embedder finetune` of a classifier, starting from the encoder the first stage trained.

Here both stages are `training.finetune.finetune` runs: the first with ``pairs=True`` on the generated pairs (one
epoch; dev pairs are built the same way from the dev examples, which never meet a training example), the second the
classification run the user asked for, from the first stage's export. The dev hold-out (when there is no dev file)
is carved once, before any pair is built, and both stages use it. Each stage has its own work directory under the
run's (``contrastive/``, ``classifier/``), so ``--resume`` continues whichever stage was interrupted.

Example:
    >>> config = FinetuneConfig(source="default", train_path="few.tsv", few_shot_iterations=20)
    >>> finetune_few_shot(config, "models/few")     # `finetune` calls this when few_shot_iterations > 0
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from training.config import FinetuneConfig
from training.data import LabelledExamples, ScoredPairs, write_labelled
from training.loop import TrainResult, default_work_dir

logger = logging.getLogger(__name__)

#: The contrastive stage's epochs over its pairs (SetFit's default: 1; the pairs are already many per example).
CONTRASTIVE_EPOCHS = 1


def label_pairs(examples: LabelledExamples, iterations: int, seed: int) -> ScoredPairs:
    """SetFit's pairs: per round and example, a positive pair (another example of its class, score 1) and a negative
    pair (an example of another class, score 0). A class with one example pairs it with itself. Repeated examples
    (same text and label) count once, so a training file that repeats its examples makes no self-pairs.

    >>> pairs = label_pairs(LabelledExamples(("a", "b", "c"), ("x", "x", "y")), iterations=2, seed=0)
    >>> len(pairs), sorted(set(pairs.scores))
    (12, [0.0, 1.0])
    """
    if iterations < 1:
        raise ValueError(f"Received iterations={iterations}; label pairs need at least one round.")
    unique = dict.fromkeys(zip(examples.texts, examples.labels))
    examples = LabelledExamples(tuple(t for t, _ in unique), tuple(label for _, label in unique))
    labels = np.asarray(examples.labels)
    classes = sorted(set(examples.labels))
    if len(classes) < 2:
        raise ValueError(f"Received examples of {len(classes)} class; contrastive pairs need at least two classes.")
    members = {label: np.flatnonzero(labels == label) for label in classes}
    others = {label: np.flatnonzero(labels != label) for label in classes}
    rng = np.random.default_rng(seed)
    first, second, scores = [], [], []
    for _ in range(iterations):
        for index, label in enumerate(examples.labels):
            same = members[label][members[label] != index]
            partner = int(rng.choice(same)) if len(same) else index
            first += [examples.texts[index], examples.texts[index]]
            second += [examples.texts[partner], examples.texts[int(rng.choice(others[label]))]]
            scores += [1.0, 0.0]
    return ScoredPairs(tuple(first), tuple(second), tuple(scores))


def _write_pairs(pairs: ScoredPairs, path: Path) -> str:
    rows = zip(pairs.scores, pairs.first, pairs.second)
    lines = ["score\tsentence1\tsentence2", *(f"{score:g}\t{a}\t{b}" for score, a, b in rows)]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return str(path)


def _growth(extra: dict) -> dict:
    """The vocabulary growth a stage's result records (`training.vocabulary_growth.VocabularyGrowth.summary`)."""
    from training.vocabulary_growth import VocabularyGrowth

    return {key: extra[key] for key in VocabularyGrowth.SUMMARY_KEYS if key in extra}


def _exported(base: Path) -> Path | None:
    """The latest version a stage exported under `base` (exports land whole: see `embedder.export`), or None."""
    from embedder.versions import numeric_versions

    versions = numeric_versions(base)
    return base / str(versions[-1]) if versions else None


def finetune_few_shot(
    config: FinetuneConfig,
    out: str | Path | None,
    *,
    work_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verbose: int | str = "auto",
    strategy=None,
    examples: tuple[LabelledExamples, LabelledExamples] | None = None,
) -> TrainResult:
    """The contrastive stage on label pairs, then the classifier from its encoder; exports to `out`.

    Args and errors as `training.finetune.finetune`; `config.few_shot_iterations` rounds of pairs (> 0);
    `examples` are the (train, dev) examples of `config` when the caller has read them already. The
    result is the classifier stage's; its ``extra`` (and the export's record) names the model it started from
    (``source``) and the contrastive stage's export (``contrastive_model``), and holds that stage's pairs, dev
    Spearman and vocabulary growth (the classifier stage finds no new words).
    """
    from training.finetune import finetune
    from training.train import load_labelled_data

    if config.pairs:
        raise ValueError("Received few_shot_iterations with pairs=True; the contrastive stage needs labelled examples.")
    if out is None and work_dir is None:
        raise ValueError("Received out=None and work_dir=None; give at least one (where the checkpoints go).")
    work_dir = Path(work_dir) if work_dir is not None else default_work_dir(out)
    work_dir.mkdir(parents=True, exist_ok=True)
    # The hold-out is carved once, before any pair.
    train_examples, dev_examples = examples if examples is not None else load_labelled_data(config)
    files = {
        "train": str(write_labelled(train_examples, work_dir / "train.tsv")),
        "dev": str(write_labelled(dev_examples, work_dir / "dev.tsv")),
    }
    train_pairs = label_pairs(train_examples, config.few_shot_iterations, config.seed)
    dev_pairs = label_pairs(dev_examples, 1, config.seed + 1)
    stage_one = dataclasses.replace(
        config,
        pairs=True,
        pair_loss="cosine_mse",  # SetFit's CosineSimilarityLoss, what docs/PRETRAINED.md's learning curve measured
        max_score=1.0,
        train_path=_write_pairs(train_pairs, work_dir / "pairs-train.tsv"),
        dev_path=_write_pairs(dev_pairs, work_dir / "pairs-dev.tsv"),
        file_format="tsv",
        score_column="score",  # the columns `_write_pairs` writes, whatever the user's files call theirs
        first_column="sentence1",
        second_column="sentence2",
        epochs=CONTRASTIVE_EPOCHS,
        freeze_epochs=0,
        few_shot_iterations=0,
    )

    def run_stage(stage: FinetuneConfig, name: str, out, **extra) -> TrainResult:
        """One stage, in its own work directory under the run's, resumed if that directory holds it."""
        stage_dir = work_dir / name
        return finetune(
            stage,
            out,
            work_dir=stage_dir,
            resume=resume and stage_dir.is_dir(),
            overwrite=overwrite,
            verbose=verbose,
            strategy=strategy,
            **extra,
        )

    contrastive_model = work_dir / "contrastive-model"
    source = _exported(contrastive_model) if resume else None
    contrastive = {}
    if source is None:
        logger.info("contrastive stage: %d label pairs (%d rounds)", len(train_pairs), config.few_shot_iterations)
        # The vocabulary grows as plain fine-tuning grows it (from the labelled texts), not by pair counts.
        result = run_stage(stage_one, "contrastive", contrastive_model, vocabulary_texts=list(train_examples.texts))
        source = _exported(contrastive_model)
        kept = {"source": result.extra["source"], **_growth(result.extra)}
        (work_dir / "contrastive.json").write_text(json.dumps(kept), "utf-8")
        contrastive = {"contrastive_dev_spearman": result.dev_score, **kept}
    elif (work_dir / "contrastive.json").is_file():
        contrastive = json.loads((work_dir / "contrastive.json").read_text("utf-8"))
    stage_two = dataclasses.replace(
        config,
        source=str(source),
        train_path=files["train"],
        dev_path=files["dev"],
        file_format="tsv",
        text_column="text",  # the columns `write_labelled` writes
        label_column="label",
        few_shot_iterations=0,
    )
    # The vocabulary grew in the contrastive stage (the classifier stage finds no new words): its record says so.
    record = {"contrastive_pairs": len(train_pairs), "contrastive_model": str(source), **contrastive}
    return run_stage(stage_two, "classifier", out, record=record)
