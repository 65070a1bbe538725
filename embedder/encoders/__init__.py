"""Sentence encoders: token ids in, ``(embedding, attention)`` out."""

from embedder.encoders.bilstm_max_encoder import BiLSTMMaxEncoder
from embedder.encoders.classic_attention_encoder import ClassicAttentionEncoder
from embedder.encoders.factory import ENCODERS, build_encoder, build_model, encoder_class, get_encoder
from embedder.encoders.sentence_encoder import SentenceEncoder
from embedder.encoders.structured_self_attentive_encoder import StructuredSelfAttentiveEncoder
from embedder.encoders.transformer_sentence_encoder import TransformerSentenceEncoder

__all__ = [
    "ENCODERS",
    "BiLSTMMaxEncoder",
    "ClassicAttentionEncoder",
    "SentenceEncoder",
    "StructuredSelfAttentiveEncoder",
    "TransformerSentenceEncoder",
    "build_encoder",
    "build_model",
    "encoder_class",
    "get_encoder",
]
