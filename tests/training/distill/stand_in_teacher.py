"""A stand-in teacher for tests: a fixed random projection of a sentence's bag of words (no PyTorch).

Each word gets a fixed Gaussian vector (seeded by a CRC of the word, so it is the same in every process); a
sentence's vector is the normalised sum of its words' vectors. Sentences sharing words are close, as with a real
teacher, and a mean-pooling student can learn the map.

Run as a script, it fills a teacher cache and SIGKILLs itself on the teacher call numbered ``--kill-at``, the
deterministic "kill mid-way" of the cache tests.
"""

from __future__ import annotations

import argparse
import os
import signal
import zlib

import numpy as np

DIM = 16


class StandInTeacher:
    """The stand-in teacher; `calls` counts `encode` calls, `kill_at` kills the process on that call."""

    def __init__(self, dim: int = DIM, kill_at: int | None = None):
        self._dim = dim
        self.calls = 0
        self.kill_at = kill_at

    @property
    def name(self) -> str:
        return f"stand-in-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def _word(self, word: str) -> np.ndarray:
        return np.random.default_rng(zlib.crc32(word.encode("utf-8"))).standard_normal(self._dim)

    def encode(self, sentences) -> np.ndarray:
        self.calls += 1
        if self.kill_at is not None and self.calls == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: as a power cut or the OOM killer
        vectors = np.stack([sum(self._word(w) for w in s.lower().split()) for s in sentences])
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def corpus_sentences(count: int, seed: int = 0, words: int = 30) -> list[str]:
    """`count` distinct random sentences of 3–8 words over a `words`-word vocabulary."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(words)]
    sentences: list[str] = []
    seen = set()
    while len(sentences) < count:
        sentence = " ".join(rng.choice(vocabulary, size=int(rng.integers(3, 9))))
        if sentence not in seen:
            seen.add(sentence)
            sentences.append(sentence)
    return sentences


#: A student small enough to distil in seconds.
TINY_STUDENT = dict(hidden_dim=16, num_heads=2, num_layers=1, intermediate_dim=32, dropout=0.0)


def tiny_config(corpus_file, cache_dir, **overrides):
    """A `DistillConfig` of a tiny Transformer student on `corpus_file` with the stand-in teacher, `overrides` laid
    over."""
    from training.distill.config import DistillConfig

    settings = dict(
        architecture="transformer",
        corpus=(str(corpus_file),),
        teacher="stand-in",
        cache_dir=str(cache_dir),
        encoder=TINY_STUDENT,
        max_length=12,
        min_count=1,
        dev_sentences=60,
        epochs=4,
        batch_size=32,
        learning_rate=1e-2,
        warmup_epochs=0.0,
        patience=0,
    )
    return DistillConfig(**dict(settings, **overrides))


def main() -> None:
    from training.distill.teacher_cache import TeacherCache

    parser = argparse.ArgumentParser()
    parser.add_argument("cache_dir")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--chunk-size", type=int, required=True)
    parser.add_argument("--kill-at", type=int)
    args = parser.parse_args()
    sentences = corpus_sentences(args.rows)
    cache = TeacherCache(args.cache_dir, StandInTeacher().name, "f" * 64, len(sentences), chunk_size=args.chunk_size)
    cache.fill(StandInTeacher(kill_at=args.kill_at), sentences, show_progress_bar=False)


if __name__ == "__main__":
    main()
