"""`bench/attention_keyword.py --quick` trains an encoder on the keyword task and prints its row."""

from __future__ import annotations

import re

import pytest

from bench import attention_keyword

pytestmark = pytest.mark.slow


@pytest.mark.usefixtures("eager_functions")
def test_quick_run_prints_a_row_per_encoder(capsys):
    assert attention_keyword.main(["--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["| encoder | accuracy | attention peaks on the keyword | train s |", "|---|---|---|---|"]
    rows = [re.fullmatch(r"\| (.+) \| (\d+)% \| (\d+)% \| \d+ \|", line) for line in lines[2:]]
    assert all(rows) and [row[1] for row in rows] == ["structured, word_residual=true"]
    assert all(0 <= int(row[2]) <= 100 and 0 <= int(row[3]) <= 100 for row in rows)
