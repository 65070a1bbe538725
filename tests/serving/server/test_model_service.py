"""ModelService.HandleReloadConfigRequest is unauthenticated: off by default when the server is not on loopback."""

from __future__ import annotations

import grpc
import pytest
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving.server.model_server import ModelServer, ServerOptions
from tests.serving.server.helpers import Stubs, predict_request, rpc_error


@pytest.mark.parametrize(
    "host, flag, enabled",
    [("127.0.0.1", None, True), ("0.0.0.0", None, False), ("::", None, False), ("0.0.0.0", True, True)],
)
def test_reload_config_api_default_follows_the_bind_address(host, flag, enabled):
    options = ServerOptions(model_base_path="models/x", host=host, enable_reload_config_api=flag)
    assert options.reload_config_api_enabled is enabled


def test_disabled_reload_config_is_refused_and_changes_nothing(exported_models):
    version_dir = exported_models["structured"][1]
    options = ServerOptions(
        port=0,
        host="0.0.0.0",
        model_name="kept",
        model_base_path=str(version_dir.parent),
        file_system_poll_wait_seconds=0,
        enable_model_warmup=False,
    )
    with ModelServer(options).start() as server, grpc.insecure_channel(server.target) as channel:
        stubs = Stubs(channel)
        empty = model_server_config_pb2.ModelServerConfig()
        empty.model_config_list.SetInParent()  # would unload every model
        error = rpc_error(
            stubs.model.HandleReloadConfigRequest, model_management_pb2.ReloadConfigRequest(config=empty), timeout=10
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "--enable_reload_config_api=false, the default when --host is not loopback" in error.details()
        assert stubs.prediction.Predict(predict_request("kept", ["a"]), timeout=30).model_spec.name == "kept"
