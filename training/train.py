"""`train`: a new sentence embedder with a classification head, from labelled sentences to an exported version.

The steps: read the data (a seeded hold-out when there is no dev file), build the vocabulary from the training
text (plus, optionally, frequent words of the pretrained vectors), build the encoder and head under the run's
strategy and precision, initialise the token embedding from pretrained vectors, fit with checkpoints and early
stopping on dev accuracy, keep the best epoch's weights, and export them as the next version under ``out``.

Example:
    >>> config = TrainConfig(architecture="structured", train_path="trec/train.tsv", epochs=10,
    ...                      encoder={"rnn_units": 128, "attention_hops": 4})
    >>> result = train(config, "models/trec")
    >>> result.version_dir
    PosixPath('models/trec/1')
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from embedder import contract
from embedder.precision import dtype_policy
from training.batching import encode_texts, make_input
from training.checkpoints import RunCheckpoint
from training.config import TRAIN_WORD_VECTORS, TRAIN_WORD_VECTORS_OTHERWISE, TrainConfig, per_architecture_named
from training.data import (
    LabelledExamples,
    ScoredPairs,
    check_dev_labels,
    max_length_for,
    read_labelled,
    split_holdout,
)
from training.distribution import describe, is_chief, select_strategy
from training.loop import (
    TrainResult,
    count_tokens,
    default_work_dir,
    finish_run,
    make_optimizer,
    prepare_work_dir,
    run_fit,
    seed_everything,
)
from training.pairs import MONITOR as PAIR_MONITOR
from training.pairs import dev_spearman, load_pair_data, pair_arrays, pair_loss, siamese_model

logger = logging.getLogger(__name__)

MONITOR = "val_accuracy"


def load_labelled_data(config) -> tuple[LabelledExamples, LabelledExamples]:
    """The run's (train, dev) examples: the dev file, or a seeded stratified hold-out of the training file."""
    columns = dict(text_column=config.text_column, label_column=config.label_column, file_format=config.file_format)
    train_examples = read_labelled(config.train_path, **columns)
    if config.dev_path:
        dev_examples = read_labelled(config.dev_path, **columns)
        check_dev_labels(train_examples, dev_examples, config.dev_path)
    else:
        train_examples, dev_examples = split_holdout(train_examples, config.dev_fraction, config.seed)
    return train_examples, dev_examples


def load_training_data(config) -> tuple[LabelledExamples | ScoredPairs, LabelledExamples | ScoredPairs]:
    """The run's (train, dev) data: scored pairs with ``config.pairs`` (`training.pairs.load_pair_data`), else
    labelled examples (`load_labelled_data`)."""
    return load_pair_data(config) if config.pairs else load_labelled_data(config)


def one_hot(labels, label_set) -> np.ndarray:
    """float32 (n, classes) targets in the order of `label_set`."""
    index = {label: i for i, label in enumerate(label_set)}
    targets = np.zeros((len(labels), len(label_set)), np.float32)
    targets[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
    return targets


def classifier_model(model: keras.Model) -> keras.Model:
    """The training view of an embedder's model: token ids in, the probabilities out (same layers)."""
    return keras.Model(model.input, model.output[contract.OUTPUT_PROBABILITIES], name="classifier")


def compile_classifier(classifier: keras.Model, optimizer, label_smoothing: float) -> keras.Model:
    """Compiles `classifier` with cross-entropy and accuracy; returns it."""
    classifier.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return classifier


def resolve_max_length(config: TrainConfig, texts) -> int:
    """`config.max_length`, or (None) the one `training.data.max_length_for` derives from the training texts."""
    if config.max_length is not None:
        return config.max_length
    from embedder.text_preprocessor import text_lengths

    max_length = max_length_for(text_lengths(texts, config.lowercase))
    logger.info(
        "max_length %d: the 95th percentile of the training texts' lengths (give --max-length to set it)", max_length
    )
    if config.chunk_length is not None and config.chunk_length >= max_length:
        raise ValueError(
            f"Received chunk_length={config.chunk_length}, but the training texts' max_length is {max_length}; give "
            "--max-length above the chunk length, or no --chunk-length (the texts are short)."
        )
    return max_length


def _vocabulary(config: TrainConfig, texts, work_dir: Path, resume: bool, vectors) -> list[str]:
    from embedder.text_preprocessor import build_vocabulary, count_words

    path = work_dir / "vocabulary.txt"
    if resume and path.is_file():
        return path.read_text("utf-8").split("\n")
    extra = vectors.words[: config.extend_vocabulary] if vectors is not None and config.extend_vocabulary else ()
    counts = count_words(texts, config.lowercase)
    vocabulary = build_vocabulary(counts, config.vocabulary_size, config.min_count, config.lowercase, extra)
    path.write_text("\n".join(vocabulary), "utf-8")
    return vocabulary


def _fallback_vectors(config: TrainConfig):
    """The `fallback_word_vectors`, or None: none asked for, the same as `word_vectors`, or GloVe not installed."""
    from training.word_vectors import optional_word_vectors

    if config.fallback_word_vectors == config.word_vectors:
        return None
    without = f"words that {config.word_vectors} lacks start random"
    return optional_word_vectors(config.fallback_word_vectors, "fallback_word_vectors", without)


def train(
    config: TrainConfig,
    out: str | Path | None,
    *,
    work_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verbose: int | str = "auto",
    strategy=None,
) -> TrainResult:
    """Trains a new embedder as `config` says and exports it as the next version under `out`.

    Args:
        config: the run's settings.
        out: the model base path (``models/NAME``); the export lands in ``out/<next version>/``. None skips the
            export (the result still holds the trained embedder).
        work_dir: checkpoints, logs and the saved settings; defaults to ``<out>.run``.
        resume: continue the run in `work_dir` from its last checkpoint (same settings; `epochs` may grow).
        overwrite: discard an earlier run's checkpoints in `work_dir`.
        verbose: Keras's `fit` verbosity: "auto", 0 (silent), 1 (progress bar) or 2 (a line per epoch).
        strategy: a `tf.distribute.Strategy` to use instead of the one `config.distribution` selects.

    Returns:
        The `TrainResult`.

    Raises:
        DataError: bad input data (see `training.data`).
        RunStateError: a work directory that does not fit `resume`/`overwrite`.
        ValueError: bad settings, e.g. word vectors whose size differs from the encoder's `embedding_dim`.
    """
    # The multi-worker strategy must exist before TensorFlow runs its first op.
    strategy = strategy or select_strategy(config.distribution)
    seed_everything(config.seed, config.deterministic)
    if out is None and work_dir is None:
        raise ValueError("Received out=None and work_dir=None; give at least one (where the checkpoints go).")
    work_dir = Path(work_dir) if work_dir is not None else default_work_dir(out)
    chief = is_chief(strategy)

    train_data, dev_data = load_training_data(config)
    texts = list(train_data.texts)
    labels = [] if config.pairs else train_data.label_set
    config = prepare_work_dir(work_dir, config, resume, overwrite)
    vectors = None
    if config.word_vectors:
        from training.word_vectors import load_word_vectors

        vectors = load_word_vectors(config.word_vectors)
    else:
        logger.warning(
            "Training without pretrained word vectors: the token embedding starts random. Every measured default "
            "used them; leave --word-vectors out for the architecture's (%s).",
            per_architecture_named(TRAIN_WORD_VECTORS, TRAIN_WORD_VECTORS_OTHERWISE),
        )
    vocabulary = _vocabulary(config, texts, work_dir, resume, vectors)
    max_length = resolve_max_length(config, texts)
    logger.info(
        "%d training and %d dev %s, %s, vocabulary of %d, %s",
        len(train_data),
        len(dev_data),
        "pairs" if config.pairs else "examples",
        "scores" if config.pairs else f"{len(labels)} classes",
        len(vocabulary),
        describe(strategy),
    )

    from embedder.sentence_embedder import SentenceEmbedder
    from training.word_vectors import apply_word_vectors

    extra = {"max_length": max_length}
    encoder_kwargs = config.encoder_arguments()
    if vectors is not None:
        if encoder_kwargs.get("embedding_dim", vectors.dim) != vectors.dim:
            raise ValueError(
                f"Received encoder embedding_dim={encoder_kwargs['embedding_dim']}, but the word vectors "
                f"{config.word_vectors!r} are {vectors.dim}-dimensional (word vectors are on by default); leave "
                "embedding_dim out, or train random vectors of that size with --word-vectors none."
            )
        encoder_kwargs.setdefault("embedding_dim", vectors.dim)
        encoder_kwargs.setdefault("embeddings_trainable", not config.freeze_word_vectors)
    with dtype_policy(config.precision), strategy.scope():
        keras.utils.set_random_seed(config.seed)
        embedder = SentenceEmbedder.create(
            config.architecture,
            vocabulary,
            max_length=max_length,
            labels=labels,
            head=config.head,
            lowercase=config.lowercase,
            chunk_length=config.chunk_length,
            chunk_pooling=config.chunk_pooling,
            **encoder_kwargs,
        )
        if vectors is not None:
            matrix, found = vectors.embedding_matrix(vocabulary, seed=config.seed)
            fallback = _fallback_vectors(config)
            if fallback is not None:
                filled, r2 = vectors.fill_missing(matrix, vocabulary, fallback)
                logger.info(
                    "%d vocabulary words that %s lacks start from %s (mapped, R² %.2f)",
                    filled,
                    config.word_vectors,
                    config.fallback_word_vectors,
                    r2,
                )
                extra["fallback_word_vectors_found"] = filled
                found += filled
            apply_word_vectors(embedder.encoder, matrix)
            extra["word_vector_coverage"] = round(found / max(1, len(vocabulary) - 3), 4)
        batches_per_epoch = -(-len(train_data) // config.batch_size)
        optimizer = make_optimizer(config, batches_per_epoch)
        if config.pairs:
            monitor = PAIR_MONITOR
            trainer = siamese_model(embedder.encoder)
            trainer.compile(optimizer=optimizer, loss=pair_loss(config.pair_loss))
            columns, targets = pair_arrays(embedder.preprocessor, train_data, config.max_score)
            dev = {"extra_callbacks": [dev_spearman(embedder.encoder, embedder.preprocessor, dev_data)]}
        else:
            monitor = MONITOR
            trainer = compile_classifier(classifier_model(embedder.model), optimizer, config.label_smoothing)
            columns = [encode_texts(embedder.preprocessor, train_data.texts)]
            targets = one_hot(train_data.labels, labels)
            dev_ids = encode_texts(embedder.preprocessor, dev_data.texts)
        checkpoint = RunCheckpoint(work_dir / "checkpoints", monitor, "max", config.patience, write=chief)
        first_epoch = checkpoint.restore(trainer, optimizer) if resume else 0
    if resume:
        logger.info("resuming after epoch %d", first_epoch)
    # A run that stopped early, or finished its epochs but not its export, only exports when resumed.
    done = checkpoint.state.get("stopped_early", False) or first_epoch >= config.epochs
    wall = 0.0
    if not done:
        train_input, steps = make_input(
            strategy, columns, targets, config.batch_size, config.seed, first_epoch, config.epochs
        )
        if not config.pairs:
            dev_input = make_input(
                strategy, [dev_ids], one_hot(dev_data.labels, labels), config.batch_size, config.seed, shuffle=False
            )
            dev = {"validation": dev_input}
        wall = run_fit(
            trainer,
            train_input,
            steps,
            checkpoint,
            first_epoch,
            config.epochs,
            log_dir=work_dir / "logs" if chief else None,
            verbose=verbose,
            **dev,
        )
    epochs_run = checkpoint.state["epochs_done"] - first_epoch
    extra.update(
        parameters=int(embedder.model.count_params()),
        train_examples=len(train_data),
        dev_examples=len(dev_data),
        labels=labels,
    )
    return finish_run(
        embedder,
        trainer,
        checkpoint,
        config,
        out,
        monitor=monitor,
        wall_time_s=wall,
        train_tokens=count_tokens(*columns) * epochs_run,
        extra=extra,
        export=chief,
    )
