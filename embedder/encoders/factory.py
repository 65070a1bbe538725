"""The encoder factory: architecture names → encoder classes, and the functional model built around them."""

from __future__ import annotations

import keras

from embedder import contract
from embedder.encoders.bilstm_max_encoder import BiLSTMMaxEncoder
from embedder.encoders.classic_attention_encoder import ClassicAttentionEncoder
from embedder.encoders.sentence_encoder import SentenceEncoder
from embedder.encoders.structured_self_attentive_encoder import StructuredSelfAttentiveEncoder
from embedder.encoders.transformer_sentence_encoder import TransformerSentenceEncoder
from embedder.layers.chunk_pooling import ChunkPooling
from embedder.layers.classification_head import ClassificationHead
from embedder.layers.document_chunker import DocumentChunker
from embedder.validation import check_choice, check_positive_int

#: Architecture name → encoder class. "bilstm_max" is the baseline of the comparison.
ENCODERS: dict[str, type[SentenceEncoder]] = {
    "classic": ClassicAttentionEncoder,
    "structured": StructuredSelfAttentiveEncoder,
    "transformer": TransformerSentenceEncoder,
    "bilstm_max": BiLSTMMaxEncoder,
}

TOKEN_IDS = "token_ids"


def encoder_class(architecture: str) -> type[SentenceEncoder]:
    check_choice("architecture", architecture, ENCODERS)
    return ENCODERS[architecture]


def build_encoder(architecture: str, vocabulary_size: int, **kwargs) -> SentenceEncoder:
    """Builds the encoder named `architecture` with its keyword arguments.

    Example:
        >>> encoder = build_encoder("structured", vocabulary_size=5000, attention_hops=8)
    """
    return encoder_class(architecture)(vocabulary_size=vocabulary_size, name="encoder", **kwargs)


def build_model(
    encoder: SentenceEncoder, num_classes: int | None = None, chunking: dict | None = None, **head_kwargs
) -> keras.Model:
    """Wraps an encoder (and, with `num_classes`, a `ClassificationHead`) into a functional Keras model.

    The model takes int32 token ids (batch, length) and returns a dict with "embedding" (batch, dim),
    "attention" (batch, rows, length) and, with a head, "probabilities" (batch, num_classes).

    With `chunking` (``{"chunk_length": L, "max_chunks": N, "pooling": "attention" | "mean"}``, see
    `chunking_settings`) each text is cut into up to N chunks of L tokens (`DocumentChunker`), the encoder reads
    every non-empty chunk as it reads a sentence, and `ChunkPooling` pools the chunk vectors into the text's
    vector; the inputs and outputs are the same as without.
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name=TOKEN_IDS)
    if chunking is None:
        embedding, attention = encoder(token_ids)
    else:
        chunking = chunking_settings(**chunking)
        chunk_ids, chunk_mask = DocumentChunker(
            chunking["chunk_length"], chunking["max_chunks"], name="document_chunker"
        )(token_ids)  # (K, L), (B, n)
        chunk_embeddings, chunk_attention = encoder(chunk_ids)  # (K, D), (K, R, L)
        embedding, attention = ChunkPooling(chunking["pooling"], name="chunk_pooling")(
            chunk_embeddings, chunk_attention, chunk_mask, token_ids
        )  # (B, D), (B, R, T)
    outputs = {contract.OUTPUT_EMBEDDING: embedding, contract.OUTPUT_ATTENTION: attention}
    if num_classes is not None:
        outputs[contract.OUTPUT_PROBABILITIES] = ClassificationHead(
            num_classes, name="classification_head", **head_kwargs
        )(embedding)
    return keras.Model(token_ids, outputs, name=f"{encoder.name}_model")


def chunking_settings(chunk_length: int, max_chunks: int, pooling: str = "attention") -> dict:
    """The checked chunking settings of `build_model`, as the model's metadata records them."""
    check_positive_int("chunk_length", chunk_length)
    check_positive_int("max_chunks", max_chunks)
    check_choice("pooling", pooling, contract.CHUNK_POOLINGS)
    return {"chunk_length": chunk_length, "max_chunks": max_chunks, "pooling": pooling}


def get_chunking(model: keras.Model) -> dict | None:
    """The chunking settings of a model made by `build_model`, or None for a model that reads texts whole."""
    layers = {type(layer): layer for layer in model.layers}
    if DocumentChunker not in layers:
        return None
    chunker, pooling = layers[DocumentChunker], layers[ChunkPooling]
    return chunking_settings(chunker.chunk_length, chunker.max_chunks, pooling.pooling)


def get_encoder(model: keras.Model) -> SentenceEncoder:
    """The encoder layer of a model made by `build_model`."""
    for layer in model.layers:
        if isinstance(layer, SentenceEncoder):
            return layer
    raise ValueError(f"Model {model.name!r} has no SentenceEncoder layer.")


def architecture_of(encoder: SentenceEncoder) -> str:
    for name, cls in ENCODERS.items():
        if type(encoder) is cls:
            return name
    raise ValueError(f"Unknown encoder class {type(encoder).__name__}.")
