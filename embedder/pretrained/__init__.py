"""Pretrained models shipped inside the package: `default` (and `default-fast`), ready to export and serve.

Each shipped model is a folder ``embedder/pretrained/<name>/`` of plain files that need no pickle and no project
code to read:

- ``config.json``: the architecture, the encoder's keyword arguments, the teacher's width, the preprocessor's
  settings, how each weight is stored, and the model's provenance (the exact `embedder distill` command, corpus
  file hashes, measured results);
- ``vocabulary.txt``: one token a line, in id order (the same file an export carries);
- ``weights.npz``: one array per Keras weight, keyed by the weight's path (``student/encoder/...``), read with
  ``numpy.load(path, allow_pickle=False)``. The token-embedding table is stored as int8 rows with one float32
  scale per row (``<path>.int8`` and ``<path>.scale``: row = int8 * scale), the rest as float16 or float32;
- ``README.md``: the model card.

`pack` writes such a folder from an exported student (`embedder distill` output), `load` builds the
`SentenceEmbedder` back from it (seconds, no training, no PyTorch), and `export` writes it as a normal
string-in SavedModel version (``embedder pretrained export default --out models/default``).

Example:
    >>> from embedder import pretrained
    >>> pretrained.available()
    ['default', 'default-fast']
    >>> pretrained.export("default", "models/default")
    PosixPath('models/default/1')
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from embedder.validation import check_choice, invalid

#: Where the shipped models live (package data).
PRETRAINED_DIR = Path(__file__).resolve().parent
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"
VOCABULARY_FILE = "vocabulary.txt"
CARD_FILE = "README.md"
#: Version of this folder layout, written by `pack`; bumped on incompatible changes. 2: an attention pooling stores
#: no global query (its bias holds that term).
PACK_FORMAT_VERSION = 2
#: The versions `load_dir` reads: version 1 weights are converted on load (see `upgrade_weights`).
READABLE_PACK_FORMATS = (1, 2)
#: Storage of the token-embedding table.
EMBEDDING_STORAGES = ("int8", "float16", "float32")
#: Storage of every other weight.
DENSE_STORAGES = ("float16", "float32")
_EMBEDDINGS_SUFFIX = "token_embedding/embeddings"


def available() -> list[str]:
    """Names of the shipped models, sorted."""
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / CONFIG_FILE).is_file())


def model_dir(name: str) -> Path:
    """The folder of shipped model `name`.

    Raises:
        ValueError: no shipped model has that name (the message lists those that exist).
    """
    names = available()
    if name not in names:
        raise invalid("name", f"one of the shipped models {', '.join(repr(n) for n in names) or '(none)'}", name)
    return PRETRAINED_DIR / name


def read_config(name_or_dir: str | Path) -> dict:
    """The ``config.json`` of a shipped model (a name) or of a packed folder (a path)."""
    folder = Path(name_or_dir) if Path(name_or_dir).is_dir() else model_dir(str(name_or_dir))
    return json.loads((folder / CONFIG_FILE).read_text("utf-8"))


def _quantize_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row: (int8 values, float32 scales) with row ≈ values * scale."""
    table = np.asarray(table, dtype=np.float32)
    scale = np.abs(table).max(axis=1) / 127.0  # (V,)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    values = np.clip(np.rint(table / scale[:, None]), -127, 127).astype(np.int8)
    return values, scale


def encode_weights(weights: dict[str, np.ndarray], embedding_storage: str, dense_storage: str) -> dict:
    """Weight path → stored arrays (the int8 table becomes two arrays)."""
    check_choice("embedding_storage", embedding_storage, EMBEDDING_STORAGES)
    check_choice("dense_storage", dense_storage, DENSE_STORAGES)
    stored = {}
    for path, value in weights.items():
        value = np.asarray(value)
        if path.endswith(_EMBEDDINGS_SUFFIX) and embedding_storage == "int8":
            stored[path + ".int8"], stored[path + ".scale"] = _quantize_rows(value)
        elif path.endswith(_EMBEDDINGS_SUFFIX):
            stored[path] = value.astype(embedding_storage)
        elif value.dtype.kind == "f":
            stored[path] = value.astype(dense_storage)
        else:
            stored[path] = value
    return stored


def decode_weights(arrays) -> dict[str, np.ndarray]:
    """Stored arrays → weight path → float32 (or integer) array."""
    weights = {}
    for key in arrays:
        if key.endswith(".scale"):
            continue
        if key.endswith(".int8"):
            path = key[: -len(".int8")]
            weights[path] = arrays[key].astype(np.float32) * arrays[path + ".scale"].astype(np.float32)[:, None]
        else:
            value = arrays[key]
            weights[key] = value.astype(np.float32) if value.dtype.kind == "f" else value
    return weights


def upgrade_weights(weights: dict[str, np.ndarray], format_version: int) -> dict[str, np.ndarray]:
    """Decoded weights of a pack of `format_version` in the current layout (the files in git stay as they are).

    Version 1 kept each attention pooling's learned global query and its projection (``<layer>/global_query``,
    ``<layer>/global_query_projection``); they are folded into ``<layer>/bias``, which gives the same outputs
    (see `embedder.layers.additive_attention_pooling.fold_legacy_weights`).
    """
    if format_version >= 2:
        return dict(weights)
    from embedder.layers.additive_attention_pooling import LEGACY_WEIGHTS, fold_legacy_weights

    upgraded = dict(weights)
    suffix = "/" + LEGACY_WEIGHTS[0]
    for layer in sorted(path[: -len(suffix)] for path in weights if path.endswith(suffix)):
        own = {path[len(layer) + 1 :]: path for path in weights if path.startswith(layer + "/")}
        own = {name: path for name, path in own.items() if "/" not in name}
        folded = fold_legacy_weights({name: weights[path] for name, path in own.items()})
        for path in own.values():
            upgraded.pop(path)
        upgraded.update({f"{layer}/{name}": value for name, value in folded.items()})
    return upgraded


def _build(config: dict, vocabulary: list[str]):
    from embedder.encoders.factory import build_encoder
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.student import student_model
    from embedder.text_preprocessor import TextPreprocessor

    encoder = dict(config["encoder"])
    encoder.pop("vocabulary_size", None)
    preprocessor = TextPreprocessor(vocabulary, **config["preprocessor"])
    encoder = build_encoder(config["architecture"], vocabulary_size=len(vocabulary), **encoder)
    return SentenceEmbedder(student_model(encoder, config["teacher_dim"]), preprocessor)


def load_dir(folder: str | Path):
    """The `SentenceEmbedder` of a packed folder (see the module docstring)."""
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text("utf-8"))
    if config.get("format_version") not in READABLE_PACK_FORMATS:
        raise ValueError(
            f"{folder}: packed-model format {config.get('format_version')!r} is not one this package reads "
            f"({', '.join(map(str, READABLE_PACK_FORMATS))})."
        )
    vocabulary = (folder / VOCABULARY_FILE).read_text("utf-8").split("\n")
    embedder = _build(config, vocabulary)
    with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as arrays:
        weights = upgrade_weights(decode_weights(arrays), config["format_version"])
    model_weights = {w.path: w for w in embedder.model.weights}
    if set(model_weights) != set(weights):
        raise ValueError(
            f"{folder}: the stored weights do not match the model that config.json describes; missing "
            f"{sorted(set(model_weights) - set(weights))}, unexpected {sorted(set(weights) - set(model_weights))}."
        )
    for path, variable in model_weights.items():
        if tuple(variable.shape) != weights[path].shape:
            raise ValueError(
                f"{folder}: weight {path} has shape {weights[path].shape}; the model expects {tuple(variable.shape)}."
            )
        variable.assign(weights[path])
    return embedder


def word_vectors(name: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The token-embedding table of shipped model `name` as word vectors: ``(words, float32 (len(words), dim))``.

    The vocabulary's reserved tokens (padding, ``[UNK]``, ``[EMPTY]``) are left out; the words keep the
    vocabulary's order (most frequent in the distillation corpus first).
    """
    from embedder.text_preprocessor import RESERVED_TOKENS

    folder = model_dir(name)
    vocabulary = (folder / VOCABULARY_FILE).read_text("utf-8").split("\n")
    with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as arrays:
        keys = {key.removesuffix(".int8").removesuffix(".scale") for key in arrays.files if _EMBEDDINGS_SUFFIX in key}
        if len(keys) != 1:
            raise ValueError(f"{folder}: expected one token-embedding table in {WEIGHTS_FILE}, found {sorted(keys)}.")
        (key,) = keys
        table = decode_weights({k: arrays[k] for k in arrays.files if k.startswith(key)})[key]
    if len(table) != len(vocabulary):
        raise ValueError(f"{folder}: {len(vocabulary)} vocabulary entries but {len(table)} embedding rows.")
    skip = len(RESERVED_TOKENS)
    return tuple(vocabulary[skip:]), np.ascontiguousarray(table[skip:], dtype=np.float32)


def load(name: str):
    """The shipped model `name` as a `SentenceEmbedder` (see `available`)."""
    return load_dir(model_dir(name))


def export(name: str, model_base_path: str | Path, version: int | None = None, precision: str = "float32") -> Path:
    """Exports shipped model `name` as a string-in SavedModel version under `model_base_path`, computing in
    `precision` ("float32" or "bfloat16", see `embedder.precision`); returns its path."""
    config = read_config(name)
    embedder = load(name)
    run_config = {"pretrained": name, **{k: config[k] for k in ("provenance",) if k in config}}
    return embedder.export(model_base_path, version=version, run_config=run_config, precision=precision)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack(
    source: str | Path,
    out_dir: str | Path,
    embedding_storage: str = "int8",
    dense_storage: str = "float16",
    provenance: dict | None = None,
) -> Path:
    """Writes an exported student (a version directory or model base path) as a packed folder `out_dir`.

    Args:
        source: an `embedder distill` export.
        out_dir: the folder to write (created; its config, vocabulary and weights are replaced).
        embedding_storage: "int8" (per-row scales), "float16" or "float32". Defaults to "int8".
        dense_storage: "float16" or "float32" for the other weights. Defaults to "float16".
        provenance: what made the model (command, corpus hashes, results), stored in config.json.

    Returns:
        `out_dir`.
    """
    from embedder import contract
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.student import TEACHER_PROJECTION

    embedder = SentenceEmbedder.load(source)
    if embedder.labels or not any(layer.name == TEACHER_PROJECTION for layer in embedder.model.layers):
        raise ValueError(f"{source} is not a distilled student (no {TEACHER_PROJECTION!r} layer, or it has labels).")
    metadata = embedder.metadata()
    encoder = {k: v for k, v in metadata[contract.META_ENCODER_CONFIG].items() if k != "vocabulary_size"}
    weights = {w.path: np.asarray(w.numpy()) for w in embedder.model.weights}
    stored = encode_weights(weights, embedding_storage, dense_storage)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / WEIGHTS_FILE, **stored)
    (out / VOCABULARY_FILE).write_text("\n".join(embedder.preprocessor.vocabulary), "utf-8")
    config = {
        "format_version": PACK_FORMAT_VERSION,
        "architecture": metadata[contract.META_ARCHITECTURE],
        "encoder": encoder,
        "teacher_dim": metadata[contract.META_EMBEDDING_DIM],
        "preprocessor": metadata[contract.META_PREPROCESSOR_CONFIG],
        "storage": {"embeddings": embedding_storage, "dense": dense_storage},
        "files": {
            WEIGHTS_FILE: _sha256(out / WEIGHTS_FILE),
            VOCABULARY_FILE: _sha256(out / VOCABULARY_FILE),
        },
        "provenance": provenance or {},
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", "utf-8")
    return out


def cache_dir() -> Path:
    """Where `resolve_model_path` keeps exports of shipped models ($EMBEDDER_CACHE_DIR/pretrained, else
    ~/.cache/embedder/pretrained)."""
    import os

    root = os.environ.get("EMBEDDER_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "embedder") / "pretrained"


def resolve_model_path(spec: str | Path) -> Path:
    """A model path for `spec`: the path itself when it exists, else the export of the shipped model of that name
    (written once into `cache_dir`, keyed by the weights' hash, and reused).

    Raises:
        FileNotFoundError: `spec` is neither an existing path nor a shipped model's name.
    """
    path = Path(spec)
    if path.exists() or str(spec) not in available():
        if not path.exists():
            raise FileNotFoundError(
                f"No model at {str(spec)!r}, and it is not a shipped model ({', '.join(available()) or 'none'})."
            )
        return path
    config = read_config(str(spec))
    base = cache_dir() / f"{spec}-{config['files'][WEIGHTS_FILE][:12]}"
    from embedder.versions import numeric_versions

    if not numeric_versions(base):
        export(str(spec), base)
    return base
