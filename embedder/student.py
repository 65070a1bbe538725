"""The student: one of our encoders plus a linear projection into a teacher's vector space (distillation and the
shipped pretrained models, `embedder.pretrained`).

The exported embedding IS the projected vector (the teacher's dimension, e.g. 384 for MiniLM): it is the vector
that was trained to point where the teacher's does, so cosine similarity between exported embeddings is what
distillation optimised. The encoder's own pooled vector (before the projection) is only a linear map away, but its
cosine geometry was never trained, so it is not what clients get.

The model has the foundation's outputs ("embedding", "attention"), so `SentenceEmbedder`, the export, the servers
and `explain` treat a student like any other model. `embedder finetune` keeps the encoder (and vocabulary) and
puts a new head on the encoder's own output, as it does for any model.

Example:
    >>> student = build_student("transformer", vocabulary, teacher_dim=384, max_length=64, hidden_dim=256)
    >>> student.embedding_dim
    384
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from embedder import contract
from embedder.validation import check_positive_int

#: Name of the projection layer (and of the weights inside the saved Keras model).
TEACHER_PROJECTION = "teacher_projection"


def student_model(encoder, teacher_dim: int) -> keras.Model:
    """Token ids (batch, length) → {"embedding": (batch, teacher_dim), "attention": (batch, rows, length)}."""
    from embedder.encoders.factory import TOKEN_IDS

    check_positive_int("teacher_dim", teacher_dim)
    token_ids = keras.Input(shape=(None,), dtype="int32", name=TOKEN_IDS)
    pooled, attention = encoder(token_ids)  # (B, encoder dim), (B, rows, T)
    embedding = keras.layers.Dense(teacher_dim, name=TEACHER_PROJECTION)(pooled)  # (B, teacher_dim)
    outputs = {contract.OUTPUT_EMBEDDING: embedding, contract.OUTPUT_ATTENTION: attention}
    return keras.Model(token_ids, outputs, name="student")


def build_student(
    architecture: str,
    vocabulary: Sequence[str],
    teacher_dim: int,
    max_length: int = 64,
    lowercase: bool = True,
    **encoder_kwargs,
):
    """A new, untrained student `SentenceEmbedder` (no classification head).

    Args:
        architecture: "classic", "structured" or "transformer".
        vocabulary: from `embedder.text_preprocessor.build_vocabulary`.
        teacher_dim: the teacher's vector width.
        max_length: the most tokens read from a text. Defaults to 64.
        lowercase: lower-case texts. Defaults to True.
        **encoder_kwargs: the encoder's keyword arguments.
    """
    from embedder.encoders.factory import build_encoder
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.text_preprocessor import TextPreprocessor

    preprocessor = TextPreprocessor(vocabulary, max_length=max_length, lowercase=lowercase)
    if architecture == "transformer":
        encoder_kwargs.setdefault("max_length", max_length)
    encoder = build_encoder(architecture, vocabulary_size=len(vocabulary), **encoder_kwargs)
    return SentenceEmbedder(student_model(encoder, teacher_dim), preprocessor)
