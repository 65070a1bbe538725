"""Contract 1: the names that hold an exported SavedModel together.

The exporter writes these names, the embedded server and the light client read them, and the tests check them.
This module imports nothing beyond the standard library (numpy only inside `l2_normalize`), so the gRPC client can
use it without TensorFlow.

Signatures (all take one input, ``text``: DT_STRING, shape [-1]):

- ``serving_default``: ``embedding`` float32 [-1, dim].
- ``classify`` (models with a classification head): ``probabilities`` float32 [-1, classes] and ``labels``
  DT_STRING [-1, classes], the class names in the order of ``probabilities``.
- ``attention``: ``tokens`` DT_STRING [-1, max_length] (the words after standardisation, "" for padding) and
  ``attention`` float32 [-1, rows, max_length] (rows: hops, 1 for classic attention, or heads).
- ``metadata``: ``metadata`` DT_STRING [-1], the model's JSON metadata repeated once per input row, so that
  TF Serving's batching (which splits every output along dimension 0) can serve it like any other signature.
"""

from __future__ import annotations

#: Version of the export layout written by :mod:`embedder.export`; bumped on incompatible changes. 2: the Keras
#: model file's attention pooling has no global query (version 1 files still load, see `AdditiveAttentionPooling`).
EXPORT_FORMAT_VERSION = 2

INPUT_TEXT = "text"

SIGNATURE_EMBED = "serving_default"
SIGNATURE_CLASSIFY = "classify"
SIGNATURE_ATTENTION = "attention"
SIGNATURE_METADATA = "metadata"

OUTPUT_EMBEDDING = "embedding"
OUTPUT_PROBABILITIES = "probabilities"
OUTPUT_LABELS = "labels"
OUTPUT_TOKENS = "tokens"
OUTPUT_ATTENTION = "attention"
OUTPUT_METADATA = "metadata"

#: Outputs of every signature, in the order a client lists them.
SIGNATURE_OUTPUTS: dict[str, tuple[str, ...]] = {
    SIGNATURE_EMBED: (OUTPUT_EMBEDDING,),
    SIGNATURE_CLASSIFY: (OUTPUT_PROBABILITIES, OUTPUT_LABELS),
    SIGNATURE_ATTENTION: (OUTPUT_TOKENS, OUTPUT_ATTENTION),
    SIGNATURE_METADATA: (OUTPUT_METADATA,),
}

# Files inside a version directory, beside saved_model.pb. TF Serving ignores assets.extra/ except for the
# warm-up file, whose name and format (TFRecord of PredictionLog) are TF Serving's own.
ASSETS_EXTRA_DIR = "assets.extra"
METADATA_FILE = "embedder.json"
KERAS_MODEL_FILE = "model.keras"
VOCABULARY_FILE = "vocabulary.txt"
RUN_CONFIG_FILE = "run_config.json"
WARMUP_FILE = "tf_serving_warmup_requests"

# Keys of the metadata JSON (the file and the `metadata` signature carry the same document).
META_FORMAT_VERSION = "format_version"
META_ARCHITECTURE = "architecture"
META_EMBEDDING_DIM = "embedding_dim"
META_LABELS = "labels"
META_MAX_LENGTH = "max_length"
META_ATTENTION_ROWS = "attention_rows"
META_VOCABULARY_SIZE = "vocabulary_size"
META_ENCODER_CONFIG = "encoder_config"
META_PREPROCESSOR_CONFIG = "preprocessor_config"
META_CREATED = "created"
META_PACKAGE_VERSION = "embedder_version"
#: How a model reads long texts: {"chunk_length", "max_chunks", "pooling"} (absent: the first max_length tokens).
META_CHUNKING = "chunking"
#: What the exported graph computes in (absent in exports made before the option: float32).
META_PRECISION = "precision"

#: Precisions an export can compute in: float32, or bfloat16 matmuls with float32 softmax, normalisation and
#: outputs (Keras's mixed_bfloat16 policy). The signatures' inputs and outputs are the same for both.
EXPORT_PRECISIONS = ("float32", "bfloat16")

#: How a chunked model pools its chunks' vectors into a text's vector (`embedder.layers.ChunkPooling`).
CHUNK_POOLINGS = ("mean", "attention")

#: The attention encoders of the literature we implement: what a served or distilled model is.
ATTENTION_ARCHITECTURES = ("classic", "structured", "transformer")
#: Every encoder the factory builds: the attention encoders and the comparison's baseline (no attention).
ARCHITECTURES = (*ATTENTION_ARCHITECTURES, "bilstm_max")

# The in-graph tokenizer's patterns (RE2 syntax; applied in this order by embedder/text_preprocessor.py), shared so
# that the server counts tokens for the OpenAI-style endpoint's `usage` exactly as the model splits text.
#: Every punctuation or symbol character (emoji are symbols, class So) becomes a token of its own.
TOKEN_PUNCTUATION_PATTERN = r"([\p{P}\p{S}])"
#: After punctuation is split off, clitics are glued back as the Penn Treebank writes them ("n't", "'s", ...).
TOKEN_NEGATION_PATTERN = r"n ' t\b"
TOKEN_CLITIC_PATTERN = r"\s' (s|re|ve|ll|d|m)\b"
#: The token a text without any gets, so that no row is all padding.
EMPTY_TEXT_TOKEN = "[EMPTY]"

#: Rows shorter than this are left as they are by `l2_normalize` (an all-zero row stays zero).
NORM_EPSILON = 1e-12


def l2_normalize(vectors):
    """Rows scaled to unit L2 norm: what every unit-length vector we hand out goes through (the client's
    ``normalize=True``, the OpenAI-style endpoint, corpus output, search). numpy is imported here, not at the top,
    so that importing the contract stays free; float arrays keep their dtype, anything else becomes float32.
    """
    import numpy as np

    vectors = np.asarray(vectors)
    if not np.issubdtype(vectors.dtype, np.floating):
        vectors = vectors.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)  # (..., 1)
    return vectors / np.maximum(norms, np.asarray(NORM_EPSILON, vectors.dtype))
