"""``tensorflow.serving.ModelService`` of the embedded server: GetModelStatus and HandleReloadConfigRequest."""

from __future__ import annotations

import grpc
from tensorflow_serving.apis import get_model_status_pb2, model_management_pb2, model_service_pb2_grpc, status_pb2

from serving.server.config_files import ConfigError
from serving.server.errors import ServingError, from_exception, invalid_argument
from serving.server.metrics import ServingMetrics
from serving.server.model_manager import ModelManager
from serving.server.rpc import run_rpc


def model_status(manager: ModelManager, name: str, version: int | None = None, label: str | None = None):
    """GetModelStatusResponse for a model (all its versions, newest first) or one version of it."""
    if not name:
        raise invalid_argument("Missing model name in request (model_spec.name is empty).")
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in manager.status(name, version, label):
        entry = response.model_version_status.add(version=status.version, state=status.state)
        entry.status.SetInParent()  # TF Serving always sends a status, OK (0) unless the version failed
        if status.error is not None:
            entry.status.error_code = status.error.code_number
            entry.status.error_message = status.error.message
    return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """Model status and configuration over gRPC.

    Args:
        manager: the model manager whose state is reported and reconfigured.
        metrics: request statistics; None to keep none.
        allow_reload_config: whether HandleReloadConfigRequest may change the served models; when False it
            answers PERMISSION_DENIED. Defaults to True (TF Serving's behaviour).
    """

    def __init__(self, manager: ModelManager, metrics: ServingMetrics | None = None, allow_reload_config: bool = True):
        self.manager = manager
        self.metrics = metrics
        self.allow_reload_config = allow_reload_config

    def GetModelStatus(self, request, context):  # noqa: N802 - gRPC's method names
        def body():
            spec = request.model_spec
            choice = spec.WhichOneof("version_choice")
            version = spec.version.value if choice == "version" else None
            label = spec.version_label if choice == "version_label" else None
            return model_status(self.manager, spec.name, version, label)

        return run_rpc("GetModelStatus", request.model_spec.name, context, self.metrics, body)

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        """Serves the request's ModelServerConfig; the outcome is in the response's status, as in TF Serving."""

        def body():
            if not self.allow_reload_config:
                raise ServingError(
                    grpc.StatusCode.PERMISSION_DENIED,
                    "Config reloads over the API are disabled on this server (--enable_reload_config_api=false, "
                    "the default when --host is not loopback): change --model_config_file instead, or restart "
                    "with --enable_reload_config_api=true.",
                )
            response = model_management_pb2.ReloadConfigResponse()
            failure = None
            try:
                if request.config.WhichOneof("config") is None:
                    raise invalid_argument("ReloadConfigRequest has no config.")
                self.manager.reload_config(request.config)
            except ConfigError as error:
                failure = invalid_argument(str(error))
            except Exception as error:  # noqa: BLE001 - reported in the response's status
                failure = from_exception(error)
            if failure is not None:
                response.status.CopyFrom(
                    status_pb2.StatusProto(error_code=failure.code_number, error_message=failure.message)
                )
            return response

        return run_rpc("HandleReloadConfigRequest", "", context, self.metrics, body)
