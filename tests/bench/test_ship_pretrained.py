"""bench/ship_pretrained.py: the shipped model cards are what `card` writes from each model's config.json."""

from __future__ import annotations

import pytest

from bench import ship_pretrained
from bench.pretrained_report import BEGIN, END
from embedder import pretrained


@pytest.mark.parametrize("name", pretrained.available())
def test_card_only_rewrites_each_shipped_card_unchanged(name):
    shipped = (pretrained.model_dir(name) / pretrained.CARD_FILE).read_text("utf-8")
    table = shipped.split(BEGIN, 1)[1].split(END, 1)[0]  # filled in by bench/pretrained.py, kept by --card-only
    card = ship_pretrained.card(name, pretrained.read_config(name))
    assert f"{BEGIN}\n{END}" in card
    assert card.replace(f"{BEGIN}\n{END}", f"{BEGIN}{table}{END}") == shipped


def test_sha256_of_a_file(tmp_path):
    (tmp_path / "abc").write_bytes(b"abc")
    # FIPS 180-2's test vector for "abc".
    assert (
        ship_pretrained.sha256(tmp_path / "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
