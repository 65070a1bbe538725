"""Fixtures of the corpus tests: one tiny served-format model (version 1 under a base path) and corpus files."""

from __future__ import annotations

import shutil

import pytest

#: Words for generated sentences of varied lengths (in the tiny vocabulary or not: unknown words are fine).
WORDS = (
    "a good film bad what wonderful moving story the plot was dull acting worse who wrote hamlet how far moon".split()
)


def sentence(i: int) -> str:
    length = 1 + (i * 7) % 11
    return " ".join(WORDS[(i * 3 + k) % len(WORDS)] for k in range(length)) + f" {i}"


def write_corpus(path, lines: int, bad_every: int = 0) -> list[bytes]:
    """A text corpus of `lines` lines; every `bad_every`-th line is bad (alternately non-UTF-8 and empty)."""
    raw = []
    for i in range(lines):
        if bad_every and i % bad_every == bad_every - 1:
            raw.append(b"\xff\xfe not utf-8" if (i // bad_every) % 2 == 0 else b"   ")
        else:
            raw.append(sentence(i).encode("utf-8"))
    path.write_bytes(b"\n".join(raw) + b"\n")
    return raw


@pytest.fixture(scope="session")
def corpus_model_base(tmp_path_factory, exported_models):
    """A model base path ``.../tiny`` holding version 1 (the session's exported structured model)."""
    base = tmp_path_factory.mktemp("corpus-models") / "tiny"
    shutil.copytree(exported_models["structured"][1], base / "1")
    return base


@pytest.fixture(scope="session")
def corpus_backend(corpus_model_base):
    from serving.corpus.saved_model_backend import SavedModelBackend

    return SavedModelBackend(str(corpus_model_base / "1"), batch_size=64)


@pytest.fixture(scope="session")
def served_model(corpus_model_base):
    """The embedded server (in this process) serving ``tiny`` from `corpus_model_base`: its ``host:port``."""
    from serving.server.model_server import ModelServer, ServerOptions

    server = ModelServer(
        ServerOptions(
            port=0, model_name="tiny", model_base_path=str(corpus_model_base), file_system_poll_wait_seconds=0
        )
    ).start()
    yield server.target
    server.stop(grace=1.0)
