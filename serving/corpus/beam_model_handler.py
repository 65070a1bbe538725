"""A Beam RunInference model handler over our embedding backends (needs the ``beam`` extra).

Beam's own TensorFlow handler loads models with ``tf.keras.models.load_model``, which Keras 3 refuses for
SavedModel directories; ours calls the export's ``serving_default`` signature through `tf.saved_model.load`
(`SavedModelBackend`), the graph TF Serving serves, or a served model through the gRPC client (`GrpcBackend`).
The handler holds only a `BackendSpec` (pinned to one version), so it pickles to any runner's workers, and each
worker loads the model once (Beam shares it between the worker's threads).

Example:
    >>> handler = EmbeddingModelHandler(spec, max_batch_size=128)
    >>> pairs | RunInference(KeyedModelHandler(handler))   # (line_id, text) → (line_id, PredictionResult)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from serving.corpus.backend_spec import BackendSpec
from serving.corpus.model_info import l2_normalize


class EmbeddingModelHandler(ModelHandler[str, PredictionResult, Any]):
    """Embeds batches of sentences with the model a `BackendSpec` names.

    Args:
        spec: the model, pinned to one version (`BackendSpec.pinned`).
        normalize: L2-normalise the embeddings. Defaults to False.
        min_batch_size: the fewest sentences Beam batches per call. Defaults to 1.
        max_batch_size: the most sentences Beam batches per call. Defaults to 256.
        **kwargs: more `ModelHandler` arguments (``max_batch_duration_secs``, ``model_copies``…).
    """

    def __init__(
        self, spec: BackendSpec, normalize: bool = False, min_batch_size: int = 1, max_batch_size: int = 256, **kwargs
    ):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size, **kwargs)
        self.spec = spec
        self.normalize = normalize

    def load_model(self):
        return self.spec.create()

    def run_inference(
        self, batch: Sequence[str], model, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        vectors = model.embed(list(batch))  # (B, dim)
        if self.normalize:
            vectors = l2_normalize(vectors)
        return [PredictionResult(text, vector) for text, vector in zip(batch, vectors)]

    def get_num_bytes(self, batch: Sequence[str]) -> int:
        return sum(len(text.encode("utf-8")) for text in batch)

    def get_metrics_namespace(self) -> str:
        return "embedder"
