"""Fixtures for the training tests: a synthetic keyword task and small labelled files."""

from __future__ import annotations

import pytest

from tests.helpers.keyword_task import KEYWORD_ENCODERS, keyword_config, keyword_sentences, write_tsv


@pytest.fixture(scope="session")
def keyword_files(tmp_path_factory):
    """{"train", "dev"}: TSV paths of the keyword task, and "test": held-out (label, text, position) rows."""
    folder = tmp_path_factory.mktemp("keyword")
    return {
        "train": write_tsv(folder / "train.tsv", keyword_sentences(480, seed=0)),
        "dev": write_tsv(folder / "dev.tsv", keyword_sentences(96, seed=1)),
        "test": keyword_sentences(100, seed=2),
    }


@pytest.fixture(scope="session")
def small_keyword_files(tmp_path_factory):
    """A smaller keyword task, for tests of the machinery (resume, precision, distribution) rather than learning."""
    folder = tmp_path_factory.mktemp("small-keyword")
    return {
        "train": write_tsv(folder / "train.tsv", keyword_sentences(160, seed=10)),
        "dev": write_tsv(folder / "dev.tsv", keyword_sentences(32, seed=11)),
        "test": keyword_sentences(32, seed=12),
    }


@pytest.fixture(scope="session")
def keyword_models(keyword_files, tmp_path_factory):
    """Every encoder trained briefly on the keyword task; the transformer is also exported (models/transformer/1)."""
    from training.train import train

    base = tmp_path_factory.mktemp("keyword-models")
    results = {}
    for architecture in KEYWORD_ENCODERS:
        out = base / architecture if architecture == "transformer" else None
        results[architecture] = train(
            keyword_config(keyword_files, architecture), out, work_dir=base / f"{architecture}.run", verbose=0
        )
    return results
