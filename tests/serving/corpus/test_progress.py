"""The progress line without tqdm: sentences done, sentences/s and ETA."""

from __future__ import annotations

import re

from serving.corpus.progress import _PlainProgress, progress_bar


def test_plain_progress_reports_rate_and_eta(capsys):
    bar = _PlainProgress(total=1000, initial=200, desc="embedding", interval=0.0)
    bar.update(300)
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(r"embedding: 500/1000 sentences, \d+ sentences/s, ETA \d+ s", line), line


def test_disabled_progress_prints_nothing(capsys):
    bar = progress_bar(total=10, enabled=False)
    bar.update(10)
    bar.close()
    assert capsys.readouterr().err == ""
