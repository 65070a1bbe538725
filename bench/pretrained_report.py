"""Writes bench/pretrained.py's results into docs: the table in docs/PRETRAINED.md, each shipped model's card, a plot.

Only the text between the markers is rewritten, so the prose around it stays hand-written; a test checks that the
tables equal what `results_table` makes of docs/results/pretrained.json.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- pretrained:begin (written by bench/pretrained.py; edits inside are overwritten) -->"
END = "<!-- pretrained:end -->"
DOC = ROOT / "docs" / "PRETRAINED.md"
README = ROOT / "README.md"
PLOT = ROOT / "docs" / "img" / "pretrained.png"

BASELINE_LABELS = {
    "teacher_float32": "teacher all-MiniLM-L6-v2, PyTorch float32",
    "teacher_bfloat16": "teacher, PyTorch bfloat16 autocast",
    "teacher_onnx_float32": "teacher, ONNX Runtime float32",
    "teacher_onnx_int8": "teacher, ONNX Runtime int8",
    "model2vec": "Model2Vec distilled from the teacher (256-d)",
}


def _f(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def best_teacher(speed: dict) -> str:
    teachers = [k for k in speed if k.startswith("teacher_") and isinstance(speed[k], dict)]
    return max(teachers, key=lambda k: speed[k]["per_s_32"])


def results_table(results: dict) -> str:
    """The markdown table of every model and baseline: quality, speed (and its ratio to the best teacher)."""
    speed = results.get("speed", {})
    quality = dict(results.get("baselines_quality", {}))
    reference = best_teacher(speed) if any(k.startswith("teacher_") for k in speed) else None
    ref_32 = speed[reference]["per_s_32"] if reference else None
    ref_128 = speed[reference]["per_s_128"] if reference else None
    lines = [
        "| model | STS-B dev | TREC | SST-2 | sent/s b32 | sent/s b128 | × best teacher b32 / b128 | "
        "first vector s | peak RSS MiB | size MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def row(label, q, s, startup=None, size=None):
        ratio = f"{s['per_s_32'] / ref_32:.1f}× / {s['per_s_128'] / ref_128:.1f}×" if s and ref_32 and ref_128 else "–"
        lines.append(
            f"| {label} | {_f(q.get('stsb_dev'))} | {_f(q.get('trec', {}).get('test'))} | "
            f"{_f(q.get('sst2', {}).get('test'))} | {_f(s.get('per_s_32') if s else None, 0)} | "
            f"{_f(s.get('per_s_128') if s else None, 0)} | {ratio} | "
            f"{_f((startup or {}).get('first_vector_s'))} | {_f((startup or {}).get('peak_rss_mib'), 0)} | "
            f"{_f(size, 2)} |"
        )

    for name, entry in sorted(results.get("models", {}).items()):
        row(f"**{name}** (shipped, served)", entry, speed.get(name), entry.get("startup"), entry.get("shipped_mib"))
    for key, label in BASELINE_LABELS.items():
        if key in quality or key in speed:
            q = quality.get(key, {})
            row(label, q, speed.get(key), size=q.get("size_mib"))
    if reference:
        lines.append("")
        lines.append(f"Best teacher setting at batch 32 in this run: {BASELINE_LABELS[reference]}.")
    return "\n".join(lines)


def targets(results: dict) -> list[tuple[str, float | None, float, bool | None]]:
    """Issue 11's targets as (what, measured, goal, met); measured/met are None where the JSON lacks the numbers."""
    models, speed = results.get("models", {}), results.get("speed", {})
    quality = results.get("baselines_quality", {})
    reference = best_teacher(speed) if any(k.startswith("teacher_") for k in speed) else None
    m2v = quality.get("model2vec", {})

    def get(entry, *keys):
        for key in keys:
            entry = entry.get(key) if isinstance(entry, dict) else None
        return entry

    def ratio(name, batch):
        mine, ref = get(speed, name, f"per_s_{batch}"), get(speed, reference, f"per_s_{batch}") if reference else None
        return mine / ref if mine and ref else None

    def lead(name, key):
        mine, base = get(models, name, *key), get(m2v, *key)
        return mine - base if mine is not None and base is not None else None

    rows = [
        ("`default` STS-B dev", get(models, "default", "stsb_dev"), 84.0),
        ("`default` TREC (frozen transfer, test)", get(models, "default", "trec", "test"), 88.0),
        ("`default` SST-2 (frozen transfer, test)", get(models, "default", "sst2", "test"), 80.5),
        ("`default` served sent/s at batch 32 ÷ best teacher", ratio("default", 32), 10.0),
        ("`default-fast` served sent/s at batch 128 ÷ best teacher", ratio("default-fast", 128), 50.0),
        ("`default-fast` STS-B dev − Model2Vec", lead("default-fast", ("stsb_dev",)), 3.0),
        ("`default-fast` TREC − Model2Vec", lead("default-fast", ("trec", "test")), 0.0),
        ("`default-fast` SST-2 − Model2Vec", lead("default-fast", ("sst2", "test")), 0.0),
    ]
    return [(what, value, goal, None if value is None else value >= goal) for what, value, goal in rows]


def section_body(results: dict) -> str:
    """What goes between the markers: the table, then each target as met or not."""
    lines = [results_table(results), "", "| target | measured | goal | met |", "|---|---|---|---|"]
    for what, value, goal, met in targets(results):
        verdict = "–" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {what} | {_f(value)} | ≥ {goal:g} | {verdict} |")
    return "\n".join(lines)


def replace_section(text: str, body: str) -> str:
    if BEGIN not in text or END not in text:
        return text.rstrip() + f"\n\n{BEGIN}\n{body}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{body}\n{END}{rest.split(END, 1)[1]}"


def plot(results: dict, path: Path = PLOT) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speed, quality = results.get("speed", {}), results.get("baselines_quality", {})
    points = []
    for name, entry in results.get("models", {}).items():
        if name in speed:
            points.append((name, speed[name]["per_s_32"], entry["stsb_dev"]))
    for key in BASELINE_LABELS:
        if key in speed and key in quality:
            points.append((key.replace("_", " "), speed[key]["per_s_32"], quality[key]["stsb_dev"]))
    if not points:
        return
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for label, x, y in points:
        axis.scatter(x, y)
        axis.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    axis.set_xscale("log")
    axis.set_xlabel("sentences/s at batch 32 (2 CPU threads, log scale)")
    axis.set_ylabel("STS-B dev Spearman × 100")
    axis.set_title("Shipped models vs the teacher and Model2Vec (bench/pretrained.py)")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_reports(results: dict) -> None:
    from embedder import pretrained

    table = section_body(results)
    DOC.write_text(replace_section(DOC.read_text("utf-8") if DOC.is_file() else "", table), "utf-8")
    readme = README.read_text("utf-8")
    if BEGIN in readme:  # the README carries the section only where its prose puts the markers
        README.write_text(replace_section(readme, table), "utf-8")
    for name in results.get("models", {}):
        card = pretrained.model_dir(name) / pretrained.CARD_FILE
        if card.is_file():
            card.write_text(replace_section(card.read_text("utf-8"), table), "utf-8")
    plot(results)
