"""Fixtures of the search tests: FAISS on one thread (their corpus outputs come from tests.helpers.corpus_outputs)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_faiss_thread():
    """The test indexes are tiny: OpenMP threads only cost barrier waits there (seconds, on a busy machine)."""
    from serving.search.ann import set_threads

    set_threads(1)
    yield
    set_threads(0)
