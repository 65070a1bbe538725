"""In-process embeddings: the exported SavedModel's ``serving_default`` signature, called directly.

The model is loaded with `tf.saved_model.load` and called through the same signature TF Serving serves, so an
in-process corpus job and one through the server compute the same graph. Keras is not involved (Keras 3 cannot
load a SavedModel directory), and nothing from `embedder` beyond the contract's names is needed.

Example:
    >>> backend = SavedModelBackend("models/trec")   # the latest version, resolved once
    >>> backend.info.version, backend.embed(["How far is the moon?"]).shape
    (3, (1, 256))
"""

from __future__ import annotations

import json

import numpy as np

from embedder import contract
from embedder.validation import check_positive_int
from serving.corpus.model_info import ModelInfo


def resolve_saved_model(path: str) -> str:
    """A SavedModel version directory as given, or the latest numeric version under a model base path.

    Local paths and TensorFlow file-system URLs (``gs://…``) both work.
    """
    if "://" not in str(path):
        from embedder.versions import resolve_version_dir

        return str(resolve_version_dir(path))
    import tensorflow as tf

    path = str(path).rstrip("/")
    if tf.io.gfile.exists(f"{path}/saved_model.pb"):
        return path
    versions = sorted(int(name.rstrip("/")) for name in tf.io.gfile.listdir(path) if name.rstrip("/").isdigit())
    if not versions:
        raise FileNotFoundError(f"No SavedModel in {path} and no numeric version directory under it.")
    return f"{path}/{versions[-1]}"


def _split_version(version_dir: str) -> tuple[str, int | None]:
    parts = str(version_dir).rstrip("/").replace("\\", "/").split("/")
    if parts[-1].isdigit():
        return (parts[-2] if len(parts) > 1 and parts[-2] else parts[-1]), int(parts[-1])
    return parts[-1], None


class SavedModelBackend:
    """Embeds with an exported SavedModel loaded in this process.

    Args:
        path: a version directory, or a model base path (its latest numeric version is used).
        batch_size: sentences per call of the signature. Defaults to 128.
    """

    def __init__(self, path: str, batch_size: int = 128):
        check_positive_int("batch_size", batch_size)
        import tensorflow as tf

        self._tf = tf
        self.batch_size = batch_size
        self.version_dir = resolve_saved_model(path)
        self._loaded = tf.saved_model.load(self.version_dir)
        signatures = self._loaded.signatures
        if contract.SIGNATURE_EMBED not in signatures:
            raise ValueError(f"{self.version_dir} has no {contract.SIGNATURE_EMBED!r} signature.")
        self._embed = signatures[contract.SIGNATURE_EMBED]
        metadata = {}
        if contract.SIGNATURE_METADATA in signatures:
            output = signatures[contract.SIGNATURE_METADATA](**{contract.INPUT_TEXT: tf.constant([""])})
            metadata = json.loads(output[contract.OUTPUT_METADATA][0].numpy().decode("utf-8"))
        dim = metadata.get(contract.META_EMBEDDING_DIM)
        if dim is None:
            dim = int(self._call([""]).shape[1])
        name, version = _split_version(self.version_dir)
        self.info = ModelInfo(
            name=name,
            version=version,
            embedding_dim=int(dim),
            created=metadata.get(contract.META_CREATED),
            architecture=metadata.get(contract.META_ARCHITECTURE),
            source=str(self.version_dir),
        )

    def _call(self, texts: list[str]) -> np.ndarray:
        outputs = self._embed(**{contract.INPUT_TEXT: self._tf.constant(texts, dtype=self._tf.string)})
        return outputs[contract.OUTPUT_EMBEDDING].numpy()  # (B, dim)

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dim) embeddings, `batch_size` sentences per signature call."""
        if not texts:
            return np.zeros((0, self.info.embedding_dim), np.float32)
        parts = [self._call(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def close(self) -> None:
        self._loaded = self._embed = None
