"""bench/distill_report.py: the distillation section of docs/RESULTS.md is rendered from the stored JSON."""

from __future__ import annotations

import datetime
import json
import re

from bench import distill_report as report
from bench.distill_measures import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "docs" / "results" / "distill.json"
DOC = PROJECT_ROOT / "docs" / "RESULTS.md"


def test_docs_show_the_section_rendered_from_the_json():
    section = report.section(json.loads(RESULTS.read_text()))
    shown = DOC.read_text("utf-8").split(report.BEGIN, 1)[1].split(report.END, 1)[0]
    today = datetime.date.today().isoformat()
    # The one thing that differs: the date the section was written.
    shown = re.sub(r"Measured \d{4}-\d\d-\d\d", f"Measured {today}", shown)
    assert f"{report.BEGIN}{shown}{report.END}" == section


def test_write_report_replaces_only_its_own_section(tmp_path):
    results = json.loads(RESULTS.read_text())
    path = tmp_path / "RESULTS.md"
    report.write_report(results, path)  # no file yet: the section is appended to a title
    assert path.read_text("utf-8") == f"# Results\n\n{report.section(results)}\n"
    path.write_text(f"# Results\n\nbefore\n\n{report.BEGIN}\nold\n{report.END}\n\nafter\n", "utf-8")
    report.write_report(results, path)
    assert path.read_text("utf-8") == f"# Results\n\nbefore\n\n{report.section(results)}\n\nafter\n"


def test_missing_stages_render_as_dashes():
    section = report.section({})  # a run interrupted before any stage: the report still renders
    assert section.startswith(report.BEGIN) and section.endswith(report.END) and "### Quality" in section
