"""`finetune`: a trained model's encoder and vocabulary, taught a new label set or sentence similarity.

Classification (the default): the Keras model saved in the source's version directory is loaded, its encoder and
vocabulary are kept, and its head is replaced by a new `ClassificationHead` for the new labels. The vocabulary is
first grown with the training texts' frequent words that it lacks (``new_words``, see
`training.vocabulary_growth`), so that a new domain's words are not all [UNK]; old words keep their ids and rows. With
``freeze_epochs`` the encoder is frozen while the new head trains alone for that many epochs (a fresh head's
large early gradients would otherwise disturb the encoder), then everything trains together with a fresh
optimizer.

Sentence pairs (``pairs=True``, e.g. STS-B): a siamese set-up, the same encoder on both sentences, trained so that
the cosine similarity of the two embeddings matches ``score / max_score`` (``pair_loss="cosine_mse"``: mean squared
error, as Sentence-BERT's CosineSimilarityLoss) or ranks the batch's pairs in the order of their scores
(``pair_loss="cosent"``, `CoSENTLoss`). Early stopping watches the dev Spearman correlation. The exported model has NO
classification head: the pair objective reshapes the embedding space, so a head trained on the old space would
silently give wrong answers; it serves embeddings (and attention), which is what similarity search uses.

The export goes to ``out`` as the next numeric version (``out`` = the source's base path rolls a served model
forward), or version 1 of a new model.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras

from embedder.precision import dtype_policy, with_dtype_policy
from training.batching import encode_texts, make_input
from training.checkpoints import RunCheckpoint, read_state
from training.config import FinetuneConfig
from training.data import LabelledExamples
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
from training.pairs import dev_spearman, pair_arrays, pair_loss, siamese_model
from training.train import MONITOR, classifier_model, compile_classifier, load_training_data, one_hot

logger = logging.getLogger(__name__)


def _load_source(config: FinetuneConfig, source_dir: Path):
    """The source embedder, its weights in the run's precision (call inside the strategy's scope)."""
    from embedder.sentence_embedder import SentenceEmbedder

    source = SentenceEmbedder.load(source_dir)
    if config.precision != "float32":
        source = SentenceEmbedder(with_dtype_policy(source.model, config.precision), source.preprocessor, source.labels)
    return source


def _set_penalty(encoder, config: FinetuneConfig) -> None:
    """Applies `config.penalty_coefficient` to a structured encoder; warns where pairs meet a penalty left on."""
    from embedder.encoders.structured_self_attentive_encoder import StructuredSelfAttentiveEncoder

    structured = isinstance(encoder, StructuredSelfAttentiveEncoder)
    if config.penalty_coefficient is None:
        if structured and config.pairs and encoder.penalty_coefficient > 0:
            logger.warning(
                "the source's structured encoder adds its redundancy penalty (coefficient %g) to the pair loss, "
                "which it can outweigh and collapse the embeddings (STS-B in docs/RESULTS.md); "
                "penalty_coefficient=0 (--penalty 0) turns it off for this fine-tuning",
                encoder.penalty_coefficient,
            )
        return
    if not structured:
        raise ValueError(
            f"Received penalty_coefficient={config.penalty_coefficient!r}, but the source's encoder is "
            f"{type(encoder).__name__}; only a structured encoder has a redundancy penalty."
        )
    encoder.set_penalty_coefficient(config.penalty_coefficient)


def _grow_vocabulary(encoder, preprocessor, texts: list[str], config: FinetuneConfig):
    """`training.vocabulary_growth.grow_vocabulary` with the run's settings (call inside the strategy's scope)."""
    from training.vocabulary_growth import grow_vocabulary
    from training.word_vectors import optional_word_vectors

    def vectors():  # loaded only when there are words to add
        return optional_word_vectors(config.new_word_vectors, "new_word_vectors", "new words start at the [UNK] row")

    return grow_vocabulary(encoder, preprocessor, texts, config.new_words, config.new_word_min_count, vectors)


def _decide_from_data(config: FinetuneConfig, train_examples: LabelledExamples | None) -> FinetuneConfig:
    """`config` with the settings that are None made explicit from the training examples (None for pairs):
    ``few_shot_iterations`` (`few_shot_rounds_for`) and ``new_word_min_count`` (`new_word_min_count_for`)."""
    import dataclasses

    from training.config import NEW_WORD_MIN_COUNT, few_shot_rounds_for, new_word_min_count_for

    rounds, min_count = config.few_shot_iterations, config.new_word_min_count
    if min_count is None:
        min_count = NEW_WORD_MIN_COUNT
        if train_examples is not None:
            min_count = new_word_min_count_for(len(train_examples), len(train_examples.label_set))
    if rounds is None:
        rounds = 0
        if train_examples is not None and config.freeze_epochs < config.epochs:  # frozen encoder: no such stage
            rounds = few_shot_rounds_for(len(train_examples), len(train_examples.label_set))
    if train_examples is not None and (rounds, min_count) != (config.few_shot_iterations, config.new_word_min_count):
        logger.info(
            "%d training examples in %d classes: SetFit's contrastive stage %s (--few-shot), new words seen at least "
            "%d time(s) added (--new-word-min-count)",
            len(train_examples),
            len(train_examples.label_set),
            f"first, {rounds} rounds of label pairs" if rounds else "off",
            min_count,
        )
    return dataclasses.replace(config, few_shot_iterations=rounds, new_word_min_count=min_count)


def finetune(
    config: FinetuneConfig,
    out: str | Path | None,
    *,
    work_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verbose: int | str = "auto",
    strategy=None,
    vocabulary_texts: list[str] | None = None,
    record: dict | None = None,
) -> TrainResult:
    """Fine-tunes `config.source` on new labels (or scored pairs) and exports the result under `out`.

    Args and errors as `training.train.train`; `vocabulary_texts` are the texts whose frequent unknown words grow
    the vocabulary (default: the training texts; the few-shot stage passes the labelled texts its pairs come from);
    `record` is added to the result's ``extra`` (and so to the export's run record) last. The result's ``extra``
    records the source version directory.
    """
    from embedder import pretrained
    from embedder.encoders.factory import build_model
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.versions import resolve_version_dir

    train_data, dev_data = load_training_data(config)
    if config.few_shot_iterations is None or config.new_word_min_count is None:
        config = _decide_from_data(config, None if config.pairs else train_data)
    if config.few_shot_iterations:
        from training.few_shot import finetune_few_shot

        return finetune_few_shot(
            config,
            out,
            work_dir=work_dir,
            resume=resume,
            overwrite=overwrite,
            verbose=verbose,
            strategy=strategy,
            examples=(train_data, dev_data),
        )
    strategy = strategy or select_strategy(config.distribution)
    seed_everything(config.seed, config.deterministic)
    if out is None and work_dir is None:
        raise ValueError("Received out=None and work_dir=None; give at least one (where the checkpoints go).")
    work_dir = Path(work_dir) if work_dir is not None else default_work_dir(out)
    chief = is_chief(strategy)
    try:
        # A shipped model's name ("default") stands for its export, made once into the cache.
        source_dir = resolve_version_dir(pretrained.resolve_model_path(config.source))
    except FileNotFoundError as error:
        raise ValueError(f"Received an invalid value for argument `source`: {error}") from None

    prepare_work_dir(work_dir, config, resume, overwrite)
    state = read_state(work_dir / "checkpoints") if resume else None
    done = int(state["epochs_done"]) if state else 0
    logger.info(
        "fine-tuning %s on %d training and %d dev %s, %s",
        source_dir,
        len(train_data),
        len(dev_data),
        "pairs" if config.pairs else "examples",
        describe(strategy),
    )

    freeze = min(config.freeze_epochs, config.epochs)
    phases = [("frozen", 0, freeze), ("full", freeze, config.epochs)] if freeze else [("full", 0, config.epochs)]
    with dtype_policy(config.precision), strategy.scope():
        keras.utils.set_random_seed(config.seed)
        source = _load_source(config, source_dir)
        texts = list(train_data.texts)
        growth = _grow_vocabulary(source.encoder, source.preprocessor, vocabulary_texts or texts, config)
        encoder, preprocessor = growth.encoder, growth.preprocessor
        _set_penalty(encoder, config)
        if config.pairs:
            labels = []
            model = build_model(encoder, chunking=source.chunking)
            trainer = siamese_model(encoder)
            columns, targets = pair_arrays(preprocessor, train_data, config.max_score)
            dev_callback = dev_spearman(encoder, preprocessor, dev_data)
            monitor = PAIR_MONITOR
        else:
            labels = train_data.label_set
            model = build_model(encoder, num_classes=len(labels), chunking=source.chunking, **config.head)
            trainer = classifier_model(model)
            columns = [encode_texts(preprocessor, train_data.texts)]
            targets = one_hot(train_data.labels, labels)
            dev_ids = encode_texts(preprocessor, dev_data.texts)
            monitor = MONITOR
        # What makes the text's vector: the encoder and, for a chunked source, its pooling of the chunks (kept with
        # its trained attention over chunks), frozen together while a new head trains alone.
        frozen_first = [encoder]
        if source.chunking:
            frozen_first.append(model.get_layer("chunk_pooling"))
            frozen_first[-1].set_weights(source.model.get_layer("chunk_pooling").get_weights())
        embedder = SentenceEmbedder(model, preprocessor, labels)
        checkpoint = RunCheckpoint(work_dir / "checkpoints", monitor, "max", config.patience, write=chief)

    batches_per_epoch = -(-len(train_data) // config.batch_size)
    wall = 0.0
    first_run_epoch = done
    # A phase that stopped early before the interruption is over; the next phase still runs.
    stopped_phase = state["phase"] if state and state.get("stopped_early") else None
    restored = False
    for phase, start, end in phases:
        if done >= end or phase == stopped_phase:
            continue
        with dtype_policy(config.precision), strategy.scope():
            for layer in frozen_first:
                layer.trainable = phase != "frozen"
            optimizer = make_optimizer(config, batches_per_epoch, end - start)
            if config.pairs:
                trainer.compile(optimizer=optimizer, loss=pair_loss(config.pair_loss))
            else:
                compile_classifier(trainer, optimizer, config.label_smoothing)
            checkpoint.phase = phase
            if resume and not restored:
                done, restored = checkpoint.restore(trainer, optimizer), True
            elif phase != phases[0][0]:
                checkpoint.state.update(wait=0, stopped_early=False)
        first = max(done, start)
        train_input, steps = make_input(strategy, columns, targets, config.batch_size, config.seed, first, end)
        if config.pairs:
            dev = {"extra_callbacks": [dev_callback]}
        else:
            dev_input = make_input(
                strategy, [dev_ids], one_hot(dev_data.labels, labels), config.batch_size, config.seed, shuffle=False
            )
            dev = {"validation": dev_input}
        log_dir = work_dir / "logs" if chief else None
        wall += run_fit(trainer, train_input, steps, checkpoint, first, end, log_dir=log_dir, verbose=verbose, **dev)
        done = checkpoint.state["epochs_done"]
    if resume and not restored:
        with strategy.scope():
            checkpoint.restore(trainer)
    for layer in frozen_first:
        layer.trainable = True
    return finish_run(
        embedder,
        trainer,
        checkpoint,
        config,
        out,
        monitor=monitor,
        wall_time_s=wall,
        train_tokens=count_tokens(*columns) * max(0, done - first_run_epoch),
        extra={
            "source": str(source_dir),
            "labels": labels,
            "parameters": int(model.count_params()),
            "train_examples": len(train_data),
            "dev_examples": len(dev_data),
            **growth.summary(),
            **(record or {}),
        },
        export=chief,
    )
