"""Which versions of a model to serve: TF Serving's ``model_version_policy`` applied to the versions on disk."""

from __future__ import annotations

from collections.abc import Iterable

from tensorflow_serving.config import model_server_config_pb2


def aspired_versions(model_config: model_server_config_pb2.ModelConfig, on_disk: Iterable[int]) -> set[int]:
    """The versions to serve, given the numeric version directories found under the base path.

    ``latest`` (the default) keeps the ``num_versions`` highest (1 when unset), ``all`` keeps every version and
    ``specific`` keeps the listed versions that exist.
    """
    versions = sorted(set(on_disk))
    policy = model_config.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(versions)
    if choice == "specific":
        return set(versions) & set(policy.specific.versions)
    count = policy.latest.num_versions if choice == "latest" and policy.latest.num_versions > 0 else 1
    return set(versions[-count:])
