"""Distillation benchmark: all-MiniLM-L6-v2 distilled into our three encoders, measured beside the teacher.

    python bench/distill.py                      # every stage; results in runs/distill-bench/results.json
    python bench/distill.py --stages speed report
    python bench/distill.py --quick              # a small smoke run (tiny corpus, 1 epoch) in runs/distill-quick

Stages (each stores its results and is skipped when they are there, unless --force):

- ``teacher``: the corpus (../shared/data: TREC train, SST-2 train+dev, STS-B train, 20 Newsgroups train+test split
  into sentences, IMDB reviews split into sentences; STS-B dev, SST-2 test and TREC test sentences excluded;
  at most 40,000 sentences from each of the three big files) and its teacher vectors (cached, resumable).
- ``students``: one distillation run per architecture (resumable: a killed run continues from its last epoch).
- ``quality``: STS-B dev Spearman of cosine, and transfer (frozen embeddings + logistic regression, C picked on
  dev; TREC's dev is a seeded 10 % of its train split) on TREC and SST-2, for the teacher and every student.
- ``speed``: sentences/s of the teacher (PyTorch, in-process) and of each student served by ``embedder serve``
  (gRPC, one request per batch) and called in-process (SavedModel signature), batch 32 and 128, alternating
  within each round, on the same sentences.
- ``startup``: import-to-first-vector seconds and peak memory, each in a fresh process.
- ``finetune``: `embedder finetune` from the best student on SST-2 and TREC vs training from scratch.
- ``report``: the "Distillation" section of docs/RESULTS.md (only that section is rewritten).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench import distill_measures as measures  # noqa: E402
from bench.distill_report import write_report  # noqa: E402

DATA = measures.DATA
TEACHER = "all-MiniLM-L6-v2"
CORPUS = tuple(
    str(DATA / p)
    for p in (
        "trec/train.tsv",
        "sst2/train.tsv",
        "sst2/dev.tsv",
        "stsb/train.tsv",
        "20ng/train.tsv",
        "20ng/test.tsv",
        "unlabeled/imdb_reviews.txt.gz",
    )
)
#: Never distil on what is evaluated: STS-B dev (similarity) and the transfer tasks' test sets.
EXCLUDE = tuple(str(DATA / p) for p in ("stsb/dev.tsv", "sst2/test.tsv", "trec/test.tsv"))

#: The students: encoder settings sized for speed (see the report), and the epochs each gets in the budget.
#: Chosen on a 33k-sentence prefix of the corpus by held-back cosine and STS-B *train* pairs, never STS-B dev.
#: An epoch over the 143k-sentence corpus took the Transformer 440-590 s and each BiLSTM student about 235 s here,
#: so the 90-minute budget (teacher encoding + all students) gives the Transformer 5 and the BiLSTMs 3.
STUDENTS = {
    "transformer": dict(
        architecture="transformer",
        encoder=dict(hidden_dim=192, num_layers=2, num_heads=4, intermediate_dim=768, normalize_first=True),
        epochs=5,
        learning_rate=2e-3,
    ),
    "structured": dict(
        architecture="structured",
        encoder=dict(rnn_units=128, attention_units=64, attention_hops=4, penalty_coefficient=0.1),
        epochs=3,
        learning_rate=2e-3,
    ),
    "classic": dict(
        architecture="classic",
        encoder=dict(rnn_units=128, attention_units=64),
        epochs=3,
        learning_rate=2e-3,
    ),
}
COMMON = dict(
    teacher=TEACHER,
    corpus=CORPUS,
    exclude=EXCLUDE,
    max_per_file=40000,
    max_words=48,
    teacher_threads=1,
    teacher_precision="bfloat16",
    word_vectors="teacher",
    vocabulary_size=60000,
    max_length=64,
    batch_size=128,
    patience=0,
)
STAGES = ("teacher", "students", "quality", "speed", "startup", "finetune", "report")

logger = logging.getLogger("bench.distill")


class Bench:
    """Holds the settings, the results file and the lazily built corpus/teacher of one benchmark run."""

    def __init__(self, work: Path, quick: bool, force: bool):
        self.work = work
        self.quick = quick
        self.force = force
        self.results_path = work / "results.json"
        self.results = json.loads(self.results_path.read_text()) if self.results_path.is_file() else {}
        self._corpus = None
        self._teacher = None

    def save(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        temporary = self.results_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.results, indent=1, sort_keys=True))
        temporary.replace(self.results_path)

    def config(self, name: str):
        from training.distill.config import DistillConfig

        settings = dict(COMMON, **STUDENTS[name], cache_dir=str(self.work.parent / "distill-cache"))
        if self.quick:
            settings.update(max_per_file=300, epochs=1, vocabulary_size=8000)
        return DistillConfig(**settings)

    @property
    def corpus(self):
        if self._corpus is None:
            from training.distill.distill import corpus_of

            start = time.process_time()
            self._corpus = corpus_of(self.config("transformer"))
            logger.info("corpus: %d sentences (%.0f CPU s)", len(self._corpus), time.process_time() - start)
        return self._corpus

    @property
    def teacher(self):
        if self._teacher is None:
            from training.distill.teacher import SentenceTransformerTeacher

            # One thread wastes least on a shared machine; the speed stage sets two for its measurements.
            self._teacher = SentenceTransformerTeacher(TEACHER, batch_size=64, threads=1)
        return self._teacher

    def evaluation_sets(self):
        """STS-B dev, and TREC and SST-2 splits (200 rows of each in --quick runs)."""
        limit = 200 if self.quick else None
        first, second, scores = measures.stsb_dev()
        splits = measures.transfer_splits(seed=0)
        if limit:
            first, second, scores = first[:limit], second[:limit], scores[:limit]
            splits = {t: {k: (x[:limit], y[:limit]) for k, (x, y) in s.items()} for t, s in splits.items()}
        everything = first + second + [t for task in splits.values() for texts, _ in task.values() for t in texts]
        return (first, second, scores), splits, everything

    def teacher_vectors_of(self, sentences: list[str]) -> dict[str, np.ndarray]:
        """Teacher vectors of evaluation sentences, through a cache entry of their own (float32)."""
        from training.distill.corpus import fingerprint
        from training.distill.teacher_cache import TeacherCache

        unique = sorted(set(sentences))
        cache = TeacherCache(
            self.work.parent / "distill-cache",
            self.teacher.name,
            fingerprint(unique),
            len(unique),
            dtype="float32",
            chunk_size=1024,
        )
        vectors = cache.fill(self.teacher, unique)
        return dict(zip(unique, np.asarray(vectors)))


# ---------------------------------------------------------------------------------------------------- stages
def stage_teacher(bench: Bench) -> None:
    from training.distill.distill import teacher_vectors

    config = bench.config("transformer")
    vectors, origin = teacher_vectors(config, bench.corpus)  # bfloat16, as the config says
    from training.distill.teacher_cache import TeacherCache

    cache = TeacherCache(config.cache_dir, origin["teacher"], bench.corpus.fingerprint, len(bench.corpus))
    state = cache.state
    bench.teacher_vectors_of(bench.evaluation_sets()[2])  # the evaluation sentences, cached for `quality`
    bench.results["corpus"] = bench.corpus.summary()
    bench.results["teacher_encoding"] = {
        "sentences": len(bench.corpus),
        "dim": int(vectors.shape[1]),
        "wall_s": state.get("teacher_wall_seconds"),
        "cpu_s": state.get("teacher_cpu_seconds"),
        "cache": origin["cache"],
        "precision": config.teacher_precision,
        "threads": config.teacher_threads,
    }
    bench.save()


def stage_students(bench: Bench, names: list[str]) -> None:
    from training.distill.distill import distill
    from training.loop import read_state

    for name in names:
        done = bench.results.get("students", {}).get(name)
        if done and Path(done["version_dir"]).is_dir() and not bench.force:
            continue
        config = bench.config(name)
        work_dir = bench.work / "runs" / name
        resume = read_state(work_dir / "checkpoints") is not None and not bench.force
        wall, cpu = time.perf_counter(), time.process_time()
        result = distill(
            config,
            bench.work / "models" / name,
            corpus=bench.corpus,
            work_dir=work_dir,
            resume=resume,
            overwrite=not resume,
            verbose=2,
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        bench.results.setdefault("students", {})[name] = {
            "version_dir": str(result.version_dir),
            "settings": config.to_dict(),
            "fit_wall_s": result.wall_time_s,
            "run_wall_s": wall,
            "run_cpu_s": cpu,
            "resumed": resume,
            "dev_cosine": result.dev_score,
            "untrained_dev_cosine": result.extra.get("untrained_dev_cosine"),
            "best_epoch": result.best_epoch,
            "history": result.history,
            "parameters": result.extra["parameters"],
            "vocabulary_size": result.extra["vocabulary_size"],
            "word_vector_coverage": result.extra.get("word_vector_coverage"),
            "train_sentences": result.extra["train_sentences"],
        }
        bench.save()


def _student_vectors(version_dir: str, sentences: list[str]) -> dict[str, np.ndarray]:
    from embedder.sentence_embedder import SentenceEmbedder

    unique = sorted(set(sentences))
    return dict(zip(unique, SentenceEmbedder.load(version_dir).encode(unique, batch_size=128, show_progress_bar=False)))


def _parameters(bench: Bench, name: str) -> int:
    if name == "teacher":
        return int(sum(p.numel() for p in bench.teacher.model.parameters()))
    return int(bench.results["students"][name]["parameters"])


def stage_quality(bench: Bench) -> None:
    (first, second, scores), splits, everything = bench.evaluation_sets()
    models = {"teacher": lambda: bench.teacher_vectors_of(everything)}
    for name, student in bench.results.get("students", {}).items():
        models[name] = lambda d=student["version_dir"]: _student_vectors(d, everything)
    quality = bench.results.setdefault("quality", {})
    for name, vectors_of in models.items():
        if name in quality and not bench.force:
            continue
        vectors = vectors_of()
        quality[name] = {
            "parameters": _parameters(bench, name),
            "stsb_dev_spearman": measures.sts_spearman(vectors, first, second, scores),
            **{task: measures.transfer_accuracy(vectors, task_splits) for task, task_splits in splits.items()},
        }
        logger.info("%s: %s", name, quality[name])
        bench.save()


def stage_speed(bench: Bench, rounds: int) -> None:
    import torch

    from training.distill.teacher import SentenceTransformerTeacher

    (first, second, _), _, _ = bench.evaluation_sets()
    pool = sorted(set(first + second))
    sentences = [pool[i] for i in np.random.default_rng(0).choice(len(pool), size=256, replace=False)]
    students = bench.results.get("students", {})
    teacher = bench.teacher.model
    fast_teacher = SentenceTransformerTeacher(TEACHER, precision="bfloat16")
    fast_teacher.model  # noqa: B018 - load it now, not inside a timed call

    def encode_fast(batch, size):
        fast_teacher.batch_size = size
        return fast_teacher.encode(batch)

    encoders = {
        "teacher": lambda batch, size: teacher.encode(list(batch), batch_size=size, show_progress_bar=False),
        "teacher bfloat16": encode_fast,
    }
    torch.set_num_threads(2)  # after loading (the bench's teacher asks for one); TensorFlow: one thread per core
    servers = {}
    try:
        for name, student in students.items():
            base = Path(student["version_dir"]).parent
            servers[name] = measures.ServedModel(base, name=name)
            encoders[f"{name} served"] = servers[name].encode
            encoders[f"{name} in-process"] = measures.saved_model_encoder(Path(student["version_dir"]))
        for encode in encoders.values():
            encode(sentences[:32], 32)  # warm up: trace, allocate, fill caches
        runs: dict[str, dict[int, list[dict]]] = {name: {32: [], 128: []} for name in encoders}
        for round_number in range(rounds):
            for batch_size in (32, 128):
                for name, encode in encoders.items():
                    repeats = 1 if name.startswith("teacher") else 8
                    server = servers.get(name.removesuffix(" served")) if name.endswith(" served") else None
                    runs[name][batch_size].append(
                        measures.sentences_per_second(
                            encode, sentences, batch_size, repeats, server.cpu_seconds if server else None
                        )
                    )
            logger.info("speed round %d done", round_number + 1)
    finally:
        for server in servers.values():
            server.close()
    bench.results["speed"] = {
        "sentences": len(sentences),
        "rounds": rounds,
        "raw": runs,
        "median": {
            name: {
                str(size): {k: measures.median_of(r, k) for k in ("per_s", "per_cpu_s", "load")}
                for size, r in by_size.items()
            }
            for name, by_size in runs.items()
        },
    }
    bench.save()


def stage_startup(bench: Bench, rounds: int = 2) -> None:
    from training.distill.teacher import resolve_teacher_path

    first, _, _ = measures.stsb_dev()
    batch = first[:128]
    targets = {"teacher": ("teacher", resolve_teacher_path(TEACHER))}
    for name, student in bench.results.get("students", {}).items():
        targets[name] = ("student", Path(student["version_dir"]))
    measured: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (kind, path) in targets.items():
            measured[name].append(measures.start_up(kind, path, batch))
    bench.results["startup"] = {
        name: {
            "first_vector_s": min(r["first_vector_s"] for r in runs),
            "peak_rss_mib": min(r["peak_rss_mib"] for r in runs),
        }
        for name, runs in measured.items()
    }
    bench.save()


def stage_finetune(bench: Bench) -> None:
    from bench.distill_finetune import finetune_comparison

    results = finetune_comparison(bench)
    if results is not None:
        bench.results["finetune"] = results
        bench.save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", nargs="+", choices=["all", *STAGES], default=["all"])
    parser.add_argument("--students", nargs="+", choices=list(STUDENTS), default=list(STUDENTS))
    parser.add_argument("--work", type=Path, help="results and models (default runs/distill-bench)")
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--force", action="store_true", help="redo stages whose results exist")
    parser.add_argument("--no-report", action="store_true", help="do not touch docs/RESULTS.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    root = Path(__file__).resolve().parents[1]
    work = args.work or root / "runs" / ("distill-quick" if args.quick else "distill-bench")
    bench = Bench(work, args.quick, args.force)
    stages = STAGES if "all" in args.stages else args.stages
    process_start = time.process_time()
    for stage in STAGES:
        if stage not in stages:
            continue
        logger.info("stage %s", stage)
        if stage == "teacher":
            stage_teacher(bench)
        elif stage == "students":
            stage_students(bench, args.students)
        elif stage == "quality":
            stage_quality(bench)
        elif stage == "speed":
            stage_speed(bench, args.rounds)
        elif stage == "startup":
            stage_startup(bench)
        elif stage == "finetune":
            stage_finetune(bench)
        elif stage == "report" and not args.no_report:
            bench.results["environment"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
            bench.save()
            # A quick run's report stays beside its results: docs/ holds only full runs.
            write_report(bench.results, work / "RESULTS.md" if args.quick else root / "docs" / "RESULTS.md")
    logger.info("bench process CPU time: %.0f s", time.process_time() - process_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
