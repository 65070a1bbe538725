"""`distill`: a student encoder trained to reproduce a sentence-transformers teacher's vectors, then exported.

The steps:

1. Build the corpus (`training.distill.corpus.build_corpus`): files → sentences, de-duplicated, evaluation
   sentences excluded, optionally sampled.
2. Get the teacher's vector for every sentence: from ``teacher_embeddings`` (a ``.npy`` computed elsewhere, so
   no PyTorch here), or from the teacher through the on-disk cache (`TeacherCache`: computed once per corpus,
   resumable, reused by every later run on the same corpus).
3. Hold back ``dev_sentences`` sentences (seeded) to pick the best epoch by their mean cosine to the teacher.
4. Build the vocabulary from the other sentences (optionally GloVe-initialised and extended), and the student:
   the encoder plus a projection to the teacher's width (`training.distill.student`).
5. Fit with the distillation loss (`training.distill.losses`), with the training runs' machinery
   (`training.batching`, `training.checkpoints`, `training.loop`): length-bucketed batches, a checkpoint per
   epoch, ``resume``, early stopping, TensorBoard logs in the work directory.
6. Export the best epoch's student as the next version under ``out`` (the foundation's SavedModel, with the run's
   settings and outcome in ``run_config.json``).

Example:
    >>> config = DistillConfig(architecture="transformer", corpus=("reviews.txt.gz",), teacher="all-MiniLM-L6-v2",
    ...                        encoder={"hidden_dim": 256, "num_layers": 1})
    >>> result = distill(config, "models/minilm-student")
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from embedder import contract
from training.distill.config import DistillConfig
from training.distill.corpus import Corpus, build_corpus
from training.distill.teacher_word_vectors import TEACHER_WORD_VECTORS

logger = logging.getLogger(__name__)

MONITOR = "val_cosine"


def corpus_of(config: DistillConfig) -> Corpus:
    """The corpus that `config` describes."""
    return build_corpus(
        config.corpus,
        exclude=config.exclude,
        max_words=config.max_words,
        min_words=config.min_words,
        max_per_file=config.max_per_file,
        max_sentences=config.max_sentences,
        seed=config.seed,
    )


def load_teacher(config: DistillConfig):
    """The `SentenceTransformerTeacher` that `config.teacher` names (its model loads on first use)."""
    from training.distill.teacher import SentenceTransformerTeacher

    return SentenceTransformerTeacher(
        config.teacher,
        batch_size=config.teacher_batch_size,
        threads=config.teacher_threads,
        precision=config.teacher_precision,
    )


def teacher_vectors(
    config: DistillConfig, corpus: Corpus, teacher=None, show_progress_bar: bool = True
) -> tuple[np.ndarray, dict]:
    """The teacher's vectors for `corpus`, (sentences, dim), and a record of where they came from.

    Args:
        config: the run's settings (`teacher_embeddings`, or `teacher` and the cache settings).
        corpus: from `corpus_of`.
        teacher: a ready `Teacher` to use instead of loading `config.teacher` (tests pass a stand-in); it is only
            loaded, and only called, for rows the cache does not hold yet.
        show_progress_bar: a progress bar while the teacher runs.
    """
    from training.distill.teacher_cache import TeacherCache, default_cache_dir, load_teacher_embeddings

    if config.teacher_embeddings:
        vectors = load_teacher_embeddings(config.teacher_embeddings, len(corpus))
        return vectors, {"teacher_embeddings": config.teacher_embeddings}
    teacher = teacher if teacher is not None else load_teacher(config)
    cache = TeacherCache(
        config.cache_dir or default_cache_dir(), teacher.name, corpus.fingerprint, len(corpus), config.cache_dtype
    )
    start, already = time.perf_counter(), cache.rows_done
    vectors = cache.fill(teacher, corpus.sentences, show_progress_bar=show_progress_bar)
    record = {
        "teacher": teacher.name,
        "cache": str(cache.directory),
        "rows_from_cache": already,
        "teacher_seconds": round(time.perf_counter() - start, 3),
    }
    return vectors, record


def split_dev(rows: int, dev_sentences: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, dev) row indices, both sorted; dev gets at most a fifth of the rows (and at least one)."""
    if rows < 2:
        raise ValueError(f"Received a corpus of {rows} sentence(s); distillation needs at least 2.")
    size = max(1, min(dev_sentences, rows // 5))
    dev = np.sort(np.random.default_rng([seed, 7]).choice(rows, size=size, replace=False))
    train = np.setdiff1d(np.arange(rows), dev)
    return train, dev


def run_config_document(config: DistillConfig, result: dict) -> dict:
    """What ``assets.extra/run_config.json`` holds for a distilled model."""
    return {"kind": "distill", "settings": config.to_dict(), "result": dict(result)}


def distill(
    config: DistillConfig,
    out: str | Path | None,
    *,
    teacher=None,
    corpus: Corpus | None = None,
    work_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verbose: int | str = "auto",
    show_progress_bar: bool = True,
):
    """Distils the teacher into a new student as `config` says and exports it as the next version under `out`.

    Args:
        config: the run's settings.
        out: the model base path (``models/NAME``); None skips the export.
        teacher: a ready teacher object (see `teacher_vectors`); None loads `config.teacher` when needed.
        corpus: the result of `corpus_of(config)`, when the caller already built it.
        work_dir: checkpoints, logs, vocabulary and settings; defaults to ``<out>.run``.
        resume: continue the run in `work_dir` from its last checkpoint (same settings; `epochs` may grow). A run
            stopped before its first checkpoint (while the teacher ran) starts its training afresh; the teacher's
            vectors continue from their cache either way.
        overwrite: discard an earlier run's checkpoints in `work_dir`.
        verbose: Keras's `fit` verbosity.
        show_progress_bar: a progress bar while the teacher runs.

    Returns:
        A `training.loop.TrainResult`; its ``dev_score`` is the held-back sentences' mean cosine to the teacher,
        and ``extra`` records the corpus, the teacher vectors' origin and the untrained student's dev cosine.

    Raises:
        ValueError: bad settings or data (e.g. teacher embeddings whose row count differs from the corpus).
        training.loop.RunStateError: a work directory that does not fit `resume`/`overwrite`.
    """
    import keras
    import tensorflow as tf

    from training.batching import encode_texts, make_input
    from training.checkpoints import RunCheckpoint, read_state
    from training.distill.losses import DistillationLoss, MeanCosine
    from training.distill.student import build_student
    from training.loop import (
        count_tokens,
        default_work_dir,
        finish_run,
        make_optimizer,
        prepare_work_dir,
        run_fit,
        seed_everything,
    )
    from training.train import _vocabulary
    from training.word_vectors import apply_word_vectors

    if out is None and work_dir is None:
        raise ValueError("Received out=None and work_dir=None; give at least one (where the checkpoints go).")
    work_dir = Path(work_dir) if work_dir is not None else default_work_dir(out)
    seed_everything(config.seed, deterministic=False)
    if resume and read_state(work_dir / "checkpoints") is None:
        # Killed before its first epoch (the teacher's vectors take the longest): nothing to lose, nothing to refuse.
        logger.info("nothing trained yet in %s: the teacher's vectors go on from their cache, then epoch 1", work_dir)
        resume, overwrite = False, True

    corpus = corpus if corpus is not None else corpus_of(config)
    logger.info(
        "corpus: %d sentences (%d excluded, %d repeats dropped)", len(corpus), corpus.excluded, corpus.duplicates
    )
    vectors, origin = teacher_vectors(config, corpus, teacher, show_progress_bar)
    prepare_work_dir(work_dir, config, resume, overwrite)
    train_rows, dev_rows = split_dev(len(corpus), config.dev_sentences, config.seed)
    train_sentences = [corpus.sentences[i] for i in train_rows]
    dev_sentences = [corpus.sentences[i] for i in dev_rows]

    word_vectors = None
    from_teacher = config.word_vectors == TEACHER_WORD_VECTORS
    if config.word_vectors and not from_teacher:
        from training.word_vectors import load_word_vectors

        word_vectors = load_word_vectors(config.word_vectors)
    vocabulary = _vocabulary(config, train_sentences, work_dir, resume, word_vectors)
    encoder_kwargs = dict(config.encoder)
    if word_vectors is not None:
        encoder_kwargs.setdefault("embedding_dim", word_vectors.dim)

    extra = {"corpus": corpus.summary(), "teacher_vectors": origin, "dev_sentences": len(dev_rows)}
    keras.utils.set_random_seed(config.seed)
    student = build_student(
        config.architecture, vocabulary, int(vectors.shape[1]), config.max_length, config.lowercase, **encoder_kwargs
    )
    if from_teacher:
        from training.distill.teacher_cache import default_cache_dir
        from training.distill.teacher_word_vectors import teacher_word_vectors

        teacher = teacher if teacher is not None else load_teacher(config)
        word_vectors = teacher_word_vectors(
            teacher,
            vocabulary,
            student.encoder.embedding_dim,
            config.cache_dir or default_cache_dir(),
            show_progress_bar,
        )
    if word_vectors is not None:
        matrix, found = word_vectors.embedding_matrix(vocabulary, seed=config.seed)
        apply_word_vectors(student.encoder, matrix)
        extra["word_vector_coverage"] = round(found / max(1, len(vocabulary) - 3), 4)

    train_ids = encode_texts(student.preprocessor, train_sentences)
    dev_ids = encode_texts(student.preprocessor, dev_sentences)
    train_targets = np.asarray(vectors[train_rows])  # (n, dim), the cache's dtype; the loss casts
    dev_targets = np.asarray(vectors[dev_rows])
    trainer = keras.Model(student.model.input, student.model.output[contract.OUTPUT_EMBEDDING], name="distillation")
    batches_per_epoch = -(-len(train_rows) // config.batch_size)
    optimizer = make_optimizer(config, batches_per_epoch)
    trainer.compile(optimizer=optimizer, loss=DistillationLoss(config.loss), metrics=[MeanCosine()])
    strategy = tf.distribute.get_strategy()
    dev_input = make_input(strategy, [dev_ids], dev_targets, config.batch_size, config.seed, shuffle=False)
    checkpoint = RunCheckpoint(work_dir / "checkpoints", MONITOR, "max", config.patience)
    first_epoch = checkpoint.restore(trainer, optimizer) if resume else 0
    if first_epoch == 0:
        # kept in the checkpoint state (written at each epoch's end), so that a resumed run reports it too
        checkpoint.state["untrained_dev_cosine"] = round(
            float(trainer.evaluate(*dev_input[:1], steps=dev_input[1], verbose=0, return_dict=True)["cosine"]), 4
        )
    else:
        logger.info("resuming after epoch %d", first_epoch)
    if checkpoint.state.get("untrained_dev_cosine") is not None:
        extra["untrained_dev_cosine"] = checkpoint.state["untrained_dev_cosine"]

    wall = 0.0
    if not checkpoint.state.get("stopped_early") and first_epoch < config.epochs:  # (a resumed, finished run exports)
        train_input, steps = make_input(
            strategy, [train_ids], train_targets, config.batch_size, config.seed, first_epoch, config.epochs
        )
        wall = run_fit(
            trainer,
            train_input,
            steps,
            checkpoint,
            first_epoch,
            config.epochs,
            validation=dev_input,
            log_dir=work_dir / "logs",
            verbose=verbose,
        )
    epochs_run = checkpoint.state["epochs_done"] - first_epoch
    extra.update(
        parameters=int(student.model.count_params()), train_sentences=len(train_rows), vocabulary_size=len(vocabulary)
    )
    return finish_run(
        student,
        trainer,
        checkpoint,
        config,
        out,
        monitor=MONITOR,
        wall_time_s=wall,
        train_tokens=count_tokens(train_ids) * epochs_run,
        extra=extra,
        document=run_config_document,
    )
