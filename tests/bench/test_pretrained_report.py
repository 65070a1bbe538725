"""The shipped models' numbers in docs come from bench/pretrained.py's JSON, not from hand edits."""

from __future__ import annotations

import json

import pytest

from bench.pretrained_report import BEGIN, DOC, END, replace_section, results_table
from embedder import pretrained
from tests.embedder.test_shipped_models import RESULTS


def section(text: str) -> str:
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_every_shipped_model_was_measured():
    results = json.loads(RESULTS.read_text())
    for name in pretrained.available():
        entry = results["models"][name]
        assert 0 < entry["stsb_dev"] < 100 and 0 < entry["trec"]["test"] <= 100 and 0 < entry["sst2"]["test"] <= 100


@pytest.mark.parametrize("name", pretrained.available())
def test_model_cards_and_docs_show_the_json_table(name):
    table = results_table(json.loads(RESULTS.read_text()))
    assert section((pretrained.model_dir(name) / pretrained.CARD_FILE).read_text("utf-8")) == table
    assert section(DOC.read_text("utf-8")) == table


def test_replace_section_keeps_the_prose_around_it():
    text = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    assert replace_section(text, "new") == f"intro\n{BEGIN}\nnew\n{END}\noutro\n"
    assert replace_section("intro", "new").endswith(f"{BEGIN}\nnew\n{END}\n")
