"""The shipped models' numbers in docs come from bench/pretrained.py's JSON, not from hand edits."""

from __future__ import annotations

import json

import pytest

from bench.pretrained_report import BEGIN, DOC, END, README, replace_section, section_body, targets
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
    table = section_body(json.loads(RESULTS.read_text()))
    assert section((pretrained.model_dir(name) / pretrained.CARD_FILE).read_text("utf-8")) == table
    assert section(DOC.read_text("utf-8")) == table
    assert section(README.read_text("utf-8")) == table


def test_targets_are_judged_from_the_numbers():
    results = {
        "models": {"default": {"stsb_dev": 84.5, "trec": {"test": 87.0}}, "default-fast": {"stsb_dev": 82.0}},
        "baselines_quality": {"model2vec": {"stsb_dev": 79.5}},
        "speed": {"default": {"per_s_32": 1000.0}, "teacher_onnx_int8": {"per_s_32": 100.0, "per_s_128": 90.0}},
    }
    verdicts = {what: (value, met) for what, value, _, met in targets(results)}
    assert verdicts["`default` STS-B dev"] == (84.5, True)
    assert verdicts["`default` TREC (frozen transfer, test)"] == (87.0, False)
    assert verdicts["`default` served sent/s at batch 32 ÷ best teacher"] == (10.0, True)
    assert verdicts["`default-fast` STS-B dev − Model2Vec"][1] is False
    assert verdicts["`default` SST-2 (frozen transfer, test)"] == (None, None)  # not measured: no verdict


def test_replace_section_keeps_the_prose_around_it():
    text = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    assert replace_section(text, "new") == f"intro\n{BEGIN}\nnew\n{END}\noutro\n"
    assert replace_section("intro", "new").endswith(f"{BEGIN}\nnew\n{END}\n")
