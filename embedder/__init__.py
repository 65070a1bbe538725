"""Attention-based sentence embeddings as Keras models, exported as string-in SavedModels.

Importing the package is cheap: the TensorFlow-backed names below load on first use, so that
`embedder.contract` can be used by the light gRPC client without TensorFlow.

    >>> from embedder import SentenceEmbedder, build_vocabulary
    >>> model = SentenceEmbedder.create("structured", build_vocabulary(texts), labels=["neg", "pos"])
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "SentenceEmbedder": "embedder.sentence_embedder",
    "TextPreprocessor": "embedder.text_preprocessor",
    "build_vocabulary": "embedder.text_preprocessor",
    "build_encoder": "embedder.encoders.factory",
    "build_model": "embedder.encoders.factory",
    "export_saved_model": "embedder.export",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'embedder' has no attribute {name!r}")
