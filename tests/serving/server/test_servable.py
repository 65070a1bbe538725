"""Loading a servable whose variables are damaged: TF Serving's status codes (NOT_FOUND, DATA_LOSS), not INTERNAL."""

from __future__ import annotations

import shutil

import grpc
import pytest

from serving.server.errors import ServingError
from serving.server.servable import Servable


def _data_file(version_dir):
    return next(p for p in (version_dir / "variables").iterdir() if p.name.startswith("variables.data"))


@pytest.mark.parametrize(
    "damage, code, message",
    [
        (lambda d: (d / "variables" / "variables.index").unlink(), grpc.StatusCode.NOT_FOUND, "is missing"),
        (lambda d: _data_file(d).unlink(), grpc.StatusCode.NOT_FOUND, "is missing"),
        (lambda d: shutil.rmtree(d / "variables"), grpc.StatusCode.NOT_FOUND, "is missing"),
        (
            lambda d: _data_file(d).write_bytes(_data_file(d).read_bytes()[:100]),
            grpc.StatusCode.DATA_LOSS,
            "is truncated or corrupt",
        ),
    ],
    ids=["no index", "no data file", "no variables directory", "truncated data file"],
)
def test_damaged_variables_get_tf_servings_status_code(exported_models, tmp_path, damage, code, message):
    version_dir = tmp_path / "1"
    shutil.copytree(exported_models["structured"][1], version_dir)
    damage(version_dir)
    with pytest.raises(ServingError) as caught:
        Servable("damaged", 1, version_dir)
    assert caught.value.code == code
    assert f"A variables file of the SavedModel in {version_dir} {message}" in caught.value.message
