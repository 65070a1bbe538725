"""``tensorflow.serving.PredictionService`` of the embedded server, with TF Serving's messages and semantics.

- ``Predict``: every signature of the served SavedModels (embedding, classify, attention, metadata).
- ``GetModelMetadata``: the ``signature_def`` map, packed as TF Serving packs it.
- ``Classify``, ``Regress``, ``MultiInference``: these run tf.Example signatures (method names
  ``tensorflow/serving/classify`` and ``…/regress``). Our SavedModels take strings, so, like TF Serving for
  such a model, they answer INVALID_ARGUMENT, here with a message pointing to the Predict signature to use.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, prediction_service_pb2_grpc

from embedder import contract
from serving.server.errors import invalid_argument
from serving.server.metrics import ServingMetrics
from serving.server.model_manager import ModelManager
from serving.server.predictor import DEFAULT_SIGNATURE, predict
from serving.server.request_limits import RequestLimits
from serving.server.rpc import run_rpc

SIGNATURE_DEF_FIELD = "signature_def"


def model_spec_fields(model_spec) -> tuple[str, int | None, str | None]:
    """(name, version or None, label or None) of a request's ModelSpec; INVALID_ARGUMENT without a name."""
    if not model_spec.name:
        raise invalid_argument("Missing ModelSpec: the request names no model (model_spec.name is empty).")
    choice = model_spec.WhichOneof("version_choice")
    version = model_spec.version.value if choice == "version" else None
    label = model_spec.version_label if choice == "version_label" else None
    return model_spec.name, version, label


def _deadline(context) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None or remaining > 1e8 else max(remaining, 0.0)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Serves the models of a `ModelManager`.

    Args:
        manager: routes requests to loaded versions.
        metrics: request statistics; None to keep none.
        limits: what one Predict request may ask (`RequestLimits`); None for the defaults.
    """

    def __init__(
        self, manager: ModelManager, metrics: ServingMetrics | None = None, limits: RequestLimits | None = None
    ):
        self.manager = manager
        self.metrics = metrics
        self.limits = limits or RequestLimits()

    def Predict(self, request, context):  # noqa: N802 - gRPC's method names
        def body():
            name, version, label = model_spec_fields(request.model_spec)
            with self.manager.servable(name, version, label) as servable:
                return predict(servable, request, _deadline(context), self.limits)

        return run_rpc("Predict", request.model_spec.name, context, self.metrics, body)

    def GetModelMetadata(self, request, context):  # noqa: N802
        def body():
            if not request.metadata_field:
                raise invalid_argument(
                    f"GetModelMetadataRequest must specify at least one metadata_field ({SIGNATURE_DEF_FIELD!r})."
                )
            for field in request.metadata_field:
                if field != SIGNATURE_DEF_FIELD:
                    raise invalid_argument(f"Metadata field {field} is not supported; ask for {SIGNATURE_DEF_FIELD!r}.")
            name, version, label = model_spec_fields(request.model_spec)
            with self.manager.servable(name, version, label) as servable:
                return model_metadata(servable)

        return run_rpc("GetModelMetadata", request.model_spec.name, context, self.metrics, body)

    def _refuse_example_api(self, method_name: str, model_spec) -> None:
        name, version, label = model_spec_fields(model_spec)
        with self.manager.servable(name, version, label) as servable:
            signature_name = model_spec.signature_name or DEFAULT_SIGNATURE
            signature = servable.signatures.get(signature_name)
            if signature is None:
                raise invalid_argument(f"No signature was found with the name: {signature_name}")
            kind = method_name.rsplit("/", 1)[-1]
            raise invalid_argument(
                f"Expected {kind} signature method_name to be {method_name}. Was: {signature.method_name}. "
                f"Model {name!r} takes raw strings, not tf.Examples: call PredictionService.Predict with "
                f"signature_name '{contract.SIGNATURE_CLASSIFY}' (class probabilities and labels) or "
                f"'{contract.SIGNATURE_EMBED}' (embeddings)."
            )

    def Classify(self, request, context):  # noqa: N802
        method = tf.saved_model.CLASSIFY_METHOD_NAME
        body = lambda: self._refuse_example_api(method, request.model_spec)  # noqa: E731
        return run_rpc("Classify", request.model_spec.name, context, self.metrics, body)

    def Regress(self, request, context):  # noqa: N802
        method = tf.saved_model.REGRESS_METHOD_NAME
        body = lambda: self._refuse_example_api(method, request.model_spec)  # noqa: E731
        return run_rpc("Regress", request.model_spec.name, context, self.metrics, body)

    def MultiInference(self, request, context):  # noqa: N802
        def body():
            if not request.tasks:
                raise invalid_argument("MultiInferenceRequest has no tasks.")
            task = request.tasks[0]
            self._refuse_example_api(task.method_name or tf.saved_model.CLASSIFY_METHOD_NAME, task.model_spec)

        model_name = request.tasks[0].model_spec.name if request.tasks else ""
        return run_rpc("MultiInference", model_name, context, self.metrics, body)


def model_metadata(servable) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """GetModelMetadata's answer for a servable: its model_spec and its signature_def map, packed in an Any."""
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = servable.model_name
    response.model_spec.version.value = servable.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, signature_def in servable.signature_def_map.items():
        signature_map.signature_def[key].CopyFrom(signature_def)
    response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
    return response
