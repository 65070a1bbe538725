"""Fixtures of the bench smoke tests: the tiny exported model, served in this process under any name a bench uses."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def tiny_version_dir(exported_models):
    """The session's exported tiny structured model (with a head; shared with the other tests): its version dir."""
    return exported_models["structured"][1]


@pytest.fixture(scope="session")
def tiny_server(tmp_path_factory, tiny_version_dir):
    """``tiny_server(name)``: the ``host:port`` of the embedded server serving the tiny model as `name` (one each)."""
    from serving.server.model_server import ModelServer, ServerOptions

    servers = {}

    def target(name: str) -> str:
        if name not in servers:
            base = tmp_path_factory.mktemp("bench-served") / name
            shutil.copytree(tiny_version_dir, base / "1")
            options = ServerOptions(port=0, model_name=name, model_base_path=str(base), file_system_poll_wait_seconds=0)
            servers[name] = ModelServer(options).start()
        return servers[name].target

    yield target
    for server in servers.values():
        server.stop(grace=1.0)
