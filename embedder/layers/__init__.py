"""Keras layers the encoders are built from; each file holds one public layer."""

from embedder.layers.additive_attention_pooling import AdditiveAttentionPooling
from embedder.layers.chunk_pooling import ChunkPooling
from embedder.layers.classification_head import ClassificationHead
from embedder.layers.document_chunker import DocumentChunker
from embedder.layers.masked_pooling import MaskedMaxPooling, MaskedMeanPooling
from embedder.layers.position_embedding import PositionEmbedding
from embedder.layers.sine_position_encoding import SinePositionEncoding
from embedder.layers.structured_self_attention import StructuredSelfAttention, attention_penalty
from embedder.layers.transformer_encoder_block import TransformerEncoderBlock

__all__ = [
    "AdditiveAttentionPooling",
    "ChunkPooling",
    "ClassificationHead",
    "DocumentChunker",
    "MaskedMaxPooling",
    "MaskedMeanPooling",
    "PositionEmbedding",
    "SinePositionEncoding",
    "StructuredSelfAttention",
    "TransformerEncoderBlock",
    "attention_penalty",
]
