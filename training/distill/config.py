"""`DistillConfig`: the settings of one distillation run, a frozen dataclass the CLI fills and the export keeps.

Standard library only, so the CLI can check settings before TensorFlow loads. The optimisation settings
(`epochs`, `batch_size`, `optimizer`, `learning_rate`, `schedule`, `warmup_epochs`, `weight_decay`, `clipnorm`,
`patience`, `seed`) are `training.settings.OptimizationSettings`'s, the training runs' own, so that
`training.loop.make_optimizer` serves both; distillation keeps its own defaults and allows fewer optimisers.

Example:
    >>> config = DistillConfig(architecture="transformer", corpus=("reviews.txt.gz",), teacher="all-MiniLM-L6-v2")
    >>> DistillConfig.from_dict(config.to_dict()) == config
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from embedder import contract
from embedder.validation import check_choice, check_int, invalid
from training.settings import ExportSettings, ModelSettings, OptimizationSettings

#: The architectures a student can have (the attention encoders).
STUDENT_ARCHITECTURES = contract.ATTENTION_ARCHITECTURES
LOSSES = ("cosine", "mse", "cosine+mse")
CACHE_DTYPES = ("float16", "float32")
#: Precisions the teacher can compute in; bfloat16 uses PyTorch's CPU autocast (fast where the CPU has AMX or
#: AVX512-BF16) and changes MiniLM's unit vectors by a cosine of about 1e-5, well below the float16 cache's rounding.
TEACHER_PRECISIONS = ("float32", "bfloat16")
#: The optimisers a distillation allows (fewer than a training run's); its schedules are the training runs'.
OPTIMIZERS = ("adam", "adamw")


@dataclass(frozen=True, kw_only=True)
class DistillConfig(OptimizationSettings, ModelSettings, ExportSettings):
    """Settings of `embedder distill`.

    Args:
        architecture: the student's encoder: "classic", "structured" or "transformer".
        corpus: corpus files (see `training.distill.corpus.read_texts`).
        teacher: a sentence-transformers folder or "all-MiniLM-L6-v2"; may be None when `teacher_embeddings` is
            given.
        teacher_embeddings: a ``.npy`` file of teacher vectors, one row per corpus sentence, computed elsewhere;
            when given, the corpus vectors come from it (a `teacher` then only serves ``word_vectors="teacher"``).
        exclude: files whose sentences are kept out of the corpus (evaluation sets).
        max_words: sentences are cut into windows of at most this many words. Defaults to 64.
        min_words: shorter sentences are dropped. Defaults to 2.
        max_per_file: a seeded sample of at most this many sentences per file; None keeps all.
        max_sentences: then at most this many in total; None keeps all.
        cache_dir: where teacher vectors are cached; None uses `training.distill.teacher_cache.default_cache_dir`.
        cache_dtype: "float16" or "float32". Defaults to "float16".
        teacher_batch_size: sentences per teacher forward pass. Defaults to 64.
        teacher_threads: PyTorch threads for the teacher; None keeps PyTorch's default (one per core). One thread
            wastes least on a machine whose cores are busy with other work.
        teacher_precision: "float32" or "bfloat16" (PyTorch CPU autocast: about twice the sentences per CPU-second
            where the CPU supports it, vectors within a cosine of 1e-4 of float32's). Defaults to "float32".
        encoder, max_length, vocabulary_size, min_count, lowercase: the student, see `ModelSettings`. Defaults:
            {}, 64, 40000, 2, True.
        word_vectors: initial token embeddings: "teacher" (each vocabulary word encoded alone by the teacher,
            PCA-reduced to the embedding width; needs `teacher`), "glove-50d" or a GloVe text file; None for
            random.
        extend_vocabulary: add up to this many of the GloVe vectors' most frequent words missing from the corpus
            (not with "teacher"). Defaults to 0.
        loss: "cosine" (1 - cosine similarity to the teacher's unit vector), "mse" (squared distance to it, which
            also pins the student's norm to 1) or "cosine+mse" (their sum). Defaults to "cosine".
        dev_sentences: corpus sentences held back to pick the best epoch (mean cosine to the teacher).
            Defaults to 2000.
        epochs, batch_size, optimizer, learning_rate, schedule, warmup_epochs, weight_decay, clipnorm, patience,
            seed: optimisation, see `OptimizationSettings` (optimizer "adam" or "adamw"). Defaults: 5, 128,
            "adam", 1e-3, "cosine", 0.1, 0, 1.0, 2, 0.
    """

    corpus: tuple[str, ...]
    teacher: str | None = None
    teacher_embeddings: str | None = None
    exclude: tuple[str, ...] = ()
    max_words: int = 64
    min_words: int = 2
    max_per_file: int | None = None
    max_sentences: int | None = None
    cache_dir: str | None = None
    cache_dtype: str = "float16"
    teacher_batch_size: int = 64
    teacher_threads: int | None = None
    teacher_precision: str = "float32"
    loss: str = "cosine"
    dev_sentences: int = 2000
    # The student: `ModelSettings`'s fields, with the defaults and architectures that suit distillation.
    architectures: ClassVar[tuple[str, ...]] = STUDENT_ARCHITECTURES
    max_length: int = 64
    vocabulary_size: int = 40000
    min_count: int = 2
    # Optimisation: `OptimizationSettings`'s fields, with the defaults that suit distillation.
    optimizers: ClassVar[tuple[str, ...]] = OPTIMIZERS
    epochs: int = 5
    batch_size: int = 128
    schedule: str = "cosine"
    warmup_epochs: float = 0.1
    patience: int = 2

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "corpus", tuple(str(p) for p in self.corpus))
        object.__setattr__(self, "exclude", tuple(str(p) for p in self.exclude))
        if not self.corpus:
            raise invalid("corpus", "at least one file", self.corpus)
        if self.teacher is None and self.teacher_embeddings is None:
            raise ValueError(
                "Give `teacher` (a sentence-transformers model) or `teacher_embeddings` (vectors computed "
                "elsewhere). Received neither."
            )
        check_int("max_words", self.max_words)
        check_int("min_words", self.min_words)
        check_int("max_per_file", self.max_per_file, optional=True)
        check_int("max_sentences", self.max_sentences, optional=True)
        check_choice("cache_dtype", self.cache_dtype, CACHE_DTYPES)
        check_int("teacher_batch_size", self.teacher_batch_size)
        check_int("teacher_threads", self.teacher_threads, optional=True)
        check_choice("teacher_precision", self.teacher_precision, TEACHER_PRECISIONS)
        if self.extend_vocabulary and self.word_vectors in (None, "teacher"):
            raise invalid("extend_vocabulary", "0 unless word_vectors names GloVe vectors", self.extend_vocabulary)
        if self.word_vectors == "teacher" and self.teacher is None:
            raise invalid("word_vectors", "not 'teacher' without a `teacher` model", self.word_vectors)
        check_choice("loss", self.loss, LOSSES)
        check_int("dev_sentences", self.dev_sentences)
