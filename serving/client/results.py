"""What the light client's methods return besides plain arrays: small frozen records with the server's answer."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Prediction:
    """The outputs of one (possibly chunked) Predict call, reassembled in input order.

    Attributes:
        outputs: output name → array with one row per input text.
        model: the model name the server answered for.
        version: the version that produced every row (None when the server did not say).
        signature: the signature that was run.
    """

    outputs: dict[str, np.ndarray]
    model: str
    version: int | None
    signature: str


@dataclasses.dataclass(frozen=True, eq=False)
class Classification:
    """Class probabilities from the ``classify`` signature.

    Attributes:
        labels: the class names, in the order of the probability columns.
        probabilities: (n, classes) float32, or (classes,) for a single string.
    """

    labels: tuple[str, ...]
    probabilities: np.ndarray

    @property
    def predicted(self) -> str | list[str]:
        """The most probable label of each text (a string for a single text)."""
        if self.probabilities.ndim == 1:
            return self.labels[int(np.argmax(self.probabilities))]
        return [self.labels[i] for i in np.argmax(self.probabilities, axis=1)]


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """A signature input or output: dtype name (``DT_FLOAT``) and shape (None for an unknown size or rank)."""

    dtype: str
    shape: tuple[int | None, ...] | None


@dataclasses.dataclass(frozen=True)
class SignatureInfo:
    """One signature of a served model, from GetModelMetadata."""

    name: str
    method_name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """GetModelMetadata's answer: the version that answered and its signatures by name."""

    model: str
    version: int | None
    signatures: dict[str, SignatureInfo]


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    """One version's state, from GetModelStatus.

    Attributes:
        version: the version number.
        state: ``START``, ``LOADING``, ``AVAILABLE``, ``UNLOADING``, ``END`` or ``UNKNOWN``.
        error_code: the gRPC status code number of its last load (0: OK).
        error_message: why loading failed, if it did.
    """

    version: int
    state: str
    error_code: int = 0
    error_message: str = ""

    @property
    def available(self) -> bool:
        return self.state == "AVAILABLE"
