"""bench/flops.py: FLOP counts against hand-counted small encoders, the docs table from the JSON, a quick run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import flops


def test_transformer_flops_by_hand():
    encoder = {"hidden_dim": 4, "embedding_dim": 4, "intermediate_dim": 8, "num_layers": 1}
    # QKVO 2·4·4²·2 = 256, scores and weighted sum 2·2·2²·4 = 64, feed-forward 2·2·4·8·2 = 256
    assert flops.flops_per_sentence("transformer", encoder, tokens=2) == 576
    assert flops.flops_per_sentence("transformer", encoder, tokens=2, output_dim=6) == 576 + 2 * 4 * 6
    projected = {**encoder, "embedding_dim": 3}
    assert flops.flops_per_sentence("transformer", projected, tokens=2) == 576 + 2 * 3 * 4 * 2


def test_recurrent_attention_flops_by_hand():
    encoder = {"embedding_dim": 3, "rnn_layers": 1, "rnn_units": 2, "rnn_type": "lstm", "attention_units": 5}
    recurrent = 2 * 2 * 4 * (3 + 2) * 2 * 4 + 2 * 3 * 4 * 4  # BiLSTM over 4 tokens, word residual
    assert flops.flops_per_sentence("classic", encoder, tokens=4) == recurrent + 160 + 40 + 32
    structured = {**encoder, "attention_hops": 3}
    assert flops.flops_per_sentence("structured", structured, tokens=4) == recurrent + 160 + 120 + 96
    gru = {**encoder, "rnn_type": "gru"}
    assert flops.flops_per_sentence("classic", gru, tokens=4) == recurrent - 2 * 2 * 1 * 5 * 2 * 4 + 232


def test_docs_show_the_json_table():
    results = json.loads(flops.RESULTS.read_text())
    assert not results["quick"] and "default" in results["models"]
    assert results["peak_gflops"]["float32"] > 0
    text = flops.DOC.read_text("utf-8")
    assert text.split(flops.BEGIN, 1)[1].split(flops.END, 1)[0].strip() == flops.render(results)


@pytest.mark.slow
def test_quick_run_measures_peak_and_achieved(tmp_path):
    out = tmp_path / "flops.json"
    command = [sys.executable, str(flops.ROOT / "bench" / "flops.py"), "--quick", "--work", str(tmp_path)]
    subprocess.run([*command, "--results", str(out), "--doc", ""], check=True, timeout=600, capture_output=True)
    results = json.loads(out.read_text())
    assert results["peak_gflops"]["float32"] > 0 and results["peak_gflops"]["bfloat16"] > 0
    entry = results["models"]["structured"]["b32"]
    assert 0 < entry["useful_gflop"] <= entry["computed_gflop"]
    assert entry["in_process"]["sentences_per_s"] > 0 and entry["served"]["sentences_per_s"] > 0
