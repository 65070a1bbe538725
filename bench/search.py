"""Semantic search measured: every index kind × quantization on 1 M real sentence vectors, retrieval quality on
STS-B, and `embedder search` end to end.

    python bench/search.py                              # every stage; results in docs/results/search.json
    python bench/search.py --stages ann report          # re-measure the indexes only (vectors are cached)
    python bench/search.py --quick --work /tmp/s --results /tmp/s/search.json --plot /tmp/s/search.png --doc ''
                                                        # smoke run: random vectors, no model

Stages (each stores its results in the JSON):

- ``vectors``: the corpus and the queries. The first lines of each file of ../shared/data/unlabeled (gzip text,
  one sentence a line), de-duplicated and shuffled; the first ``--queries`` are held out as queries, the next
  ``--rows`` are the corpus. Both are embedded by `embedder embed-corpus` with the export of ``--model``
  (``default-fast`` by default: the same 384-d output space as ``default``, about ten times faster to embed).
  Cached under ``--work``. With ``--quick``: clustered random vectors instead, no model.
- ``ann``: for every kind × quantization, one subprocess builds the index (library defaults, HNSW efConstruction
  ``--ef-construction`` 200, except IVF training on ``--train-rows`` 65,536 rows; ``--build-threads`` FAISS
  threads, both cores by default), and a second opens it and searches (``--threads`` FAISS threads, one by
  default): build seconds, index size on disk, peak RSS of each process, queries/s at top 10 batched and one
  query at a time, p50/p99 single-query latency (each on the wall clock and on the process's CPU clock, since the
  machine is shared), recall@10 against exact search. HNSW indexes are also searched at other efSearch
  (``--ef-search``). A child running past ``--child-timeout-s`` is recorded as skipped.
- ``retrieval``: STS-B train pairs scored at least 4: each distinct ``sentence1`` retrieves its ``sentence2``
  among all distinct ``sentence2``: MRR@10, recall@1 and recall@10 for the shipped ``default`` and
  ``default-fast``, TF-IDF (scikit-learn), and the teacher all-MiniLM-L6-v2 through ``.venv-bench``.
- ``e2e``: `embedder serve` in a subprocess serving ``--model``; the queries are embedded through it (gRPC) and
  searched in the 1 M HNSW index, one at a time, as `embedder search --target` does (index opened once):
  p50/p99 milliseconds. Also the wall time of whole `embedder search` processes (start-up included).
- ``report``: docs/results/search.json, the table between the markers in docs/SEARCH.md, docs/img/search.png.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.serving_common import shipped_export  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
STSB_TRAIN = DATA / "stsb" / "train.tsv"
RESULTS = ROOT / "docs" / "results" / "search.json"
PLOT = ROOT / "docs" / "img" / "search.png"
DOC = ROOT / "docs" / "SEARCH.md"
WORK = ROOT / "runs" / "search-bench"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
STAGES = ("vectors", "ann", "retrieval", "e2e", "report")
BEGIN, END = "<!-- search:begin -->", "<!-- search:end -->"
TOP_K = 10
logger = logging.getLogger("bench.search")


def embedder_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "embedder", *args]


def unlabeled_sentences(lines_per_file: int) -> list[str]:
    """The first `lines_per_file` non-empty lines of each unlabeled file, de-duplicated, in file order."""
    from bench.distill_measures import unlabeled_lines

    return unlabeled_lines(lines_per_file)


def embed_corpus(model_dir: Path, text_file: Path, out: Path) -> Path:
    """`embedder embed-corpus` of `text_file` into `out` (npy), unless a finished output is there."""
    if (out / "manifest.json").is_file() and json.loads((out / "manifest.json").read_text())["status"] == "complete":
        return out
    command = embedder_command(
        "embed-corpus", str(text_file), "--out", str(out), "--saved-model", str(model_dir),
        "--batch-size", "256", "--overwrite", "--no-progress",
    )  # fmt: skip
    subprocess.run(command, check=True, cwd=ROOT)
    return out


def stage_vectors(results: dict, args) -> None:
    """Writes the corpus and query sentences and their vectors under ``args.work`` (reused when there)."""
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    corpus_dir, queries_dir = work / "vectors", work / "query-vectors"
    if args.quick:
        vectors = clustered_vectors(args.rows + args.queries, args.dim, seed=0)
        write_vectors(corpus_dir, vectors[args.queries :])
        write_vectors(queries_dir, vectors[: args.queries])
        results["vectors"] = {"source": "clustered random vectors (--quick)", "rows": args.rows, "dim": args.dim}
        return
    corpus_text, queries_text = work / "corpus.txt", work / "queries.txt"
    if not corpus_text.is_file():
        sentences = unlabeled_sentences(args.lines_per_file)
        random.Random(0).shuffle(sentences)
        if len(sentences) < args.rows + args.queries:
            raise SystemExit(f"only {len(sentences)} distinct sentences; lower --rows")
        queries_text.write_text("\n".join(s.replace("\r", " ") for s in sentences[: args.queries]) + "\n")
        corpus = sentences[args.queries : args.queries + args.rows]
        corpus_text.write_text("\n".join(s.replace("\r", " ") for s in corpus) + "\n")
    model_dir = shipped_export(args.model, work)
    embed_corpus(model_dir, queries_text, queries_dir)
    embed_corpus(model_dir, corpus_text, corpus_dir)
    rows = json.loads((corpus_dir / "manifest.json").read_text())["output"]
    results["vectors"] = {
        "source": f"first {args.lines_per_file:,} lines of each of ../shared/data/unlabeled/*.txt.gz, de-duplicated "
        f"and shuffled (seed 0); {args.queries} held-out queries",
        "model": args.model,
        "rows": rows["rows"],
        "dim": rows["dim"],
    }


def clustered_vectors(rows: int, dim: int, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """float32 (rows, dim): points around random centres, like sentence vectors of a few topics (--quick)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    return centres[rng.integers(0, clusters, rows)] + 0.7 * rng.standard_normal((rows, dim)).astype(np.float32)


def write_vectors(directory: Path, vectors: np.ndarray) -> None:
    """`vectors` as a finished `embed-corpus` npy output in `directory` (model 'random', version 1)."""
    import hashlib

    from serving.corpus.manifest import COMPLETE, Manifest, Progress
    from serving.corpus.npy_writer import NpyWriter

    directory.mkdir(parents=True, exist_ok=True)
    rows, dim = vectors.shape
    writer = NpyWriter(directory, rows, dim)
    writer.begin_chunk(0, 0)
    writer.write_rows(np.arange(rows, dtype=np.int64), vectors)
    writer.close()
    Manifest(
        model={"name": "random", "version": 1, "embedding_dim": dim, "created": "2026-01-01T00:00:00+00:00"},
        input={"sha256": hashlib.sha256(directory.name.encode()).hexdigest(), "records": rows, "format": "text"},
        options={"output_format": "npy", "include_text": False},
        output={"format": "npy", "rows": rows, "dim": dim, "dtype": "float32", "chunks": 1},
        bad_lines={"policy": "embed-empty", "count": 0},
        progress=Progress(chunks=1, next_line_id=rows, rows=rows),
        status=COMPLETE,
    ).save(directory)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def ann_params(args, kind: str):
    from serving.search.ann import AnnParams

    if kind == "hnsw":
        return AnnParams(ef_construction=args.ef_construction)
    if kind == "ivf-pq":
        return AnnParams(train_rows=args.train_rows)
    return AnnParams()


def child_build(args) -> dict:
    """Builds one index (in this fresh process): seconds, peak RSS, sizes."""
    from serving.search import IndexBuildConfig, build_index
    from serving.search.ann import set_threads

    set_threads(args.build_threads)
    started = time.perf_counter()
    manifest = build_index(
        IndexBuildConfig(
            vectors=str(args.work / "vectors"), output=str(args.index), kind=args.kind, quantize=args.quantize,
            params=ann_params(args, args.kind), overwrite=True, progress=False,
        )
    )  # fmt: skip
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ann_file = args.index / manifest.progress.ann_file if manifest.progress.ann_file else None
    vectors_bytes = sum(p.stat().st_size for p in args.index.glob("segment-*/vectors.npy"))
    return {
        "build_s": round(seconds, 2),
        "build_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "build_peak_rss_mib": round(peak_rss_mib(), 1),
        "build_threads": args.build_threads,
        # What is searched: the FAISS file, or for exact/none the float32 matrix itself.
        "search_structure_bytes": ann_file.stat().st_size if ann_file else vectors_bytes,
        "full_precision_vectors_bytes": vectors_bytes,
        "settings": manifest.settings,
    }


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())]))


def timed_search(
    index, queries: np.ndarray, truth: np.ndarray | None, single_budget_s: float, rescore_multiplier: int | None = None
) -> dict:
    """Batched queries/s, one-query-at-a-time queries/s and p50/p99 ms (at most `single_budget_s` of wall time),
    recall@10. Each on the wall clock and on this process's CPU clock: on a shared machine the wall clock includes
    waiting for a core, the CPU clock about what free cores give."""
    index.search_hits(queries[:8], TOP_K, rescore_multiplier=rescore_multiplier)  # warm: page in graph / codes
    wall, cpu = time.perf_counter(), time.process_time()
    batched = index.search_hits(queries, TOP_K, rescore_multiplier=rescore_multiplier)
    batched_wall, batched_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall_ms, cpu_ms = [], []
    loop_started = time.perf_counter()
    for query in queries:
        wall, cpu = time.perf_counter(), time.process_time()
        index.search_hits(query[None], TOP_K, rescore_multiplier=rescore_multiplier)
        wall_ms.append((time.perf_counter() - wall) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
        if time.perf_counter() - loop_started > single_budget_s and len(wall_ms) >= 20:
            break
    wall_ms, cpu_ms = np.array(wall_ms), np.array(cpu_ms)
    return {
        "batched_qps": round(len(queries) / batched_wall, 1),
        "batched_cpu_qps": round(len(queries) / max(batched_cpu, 1e-9), 1),
        "single_qps": round(len(wall_ms) / (wall_ms.sum() / 1000), 1),
        "single_queries": len(wall_ms),
        "p50_ms": round(float(np.percentile(wall_ms, 50)), 3),
        "p99_ms": round(float(np.percentile(wall_ms, 99)), 3),
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 3),
        "cpu_p99_ms": round(float(np.percentile(cpu_ms, 99)), 3),
        "recall_at_10": None if truth is None else round(recall_at_k(batched.corpus_ids, truth), 4),
        "ids": batched.corpus_ids,
    }


def child_search(args) -> dict:
    """Opens one index (in this fresh process) and searches it; exact/none writes the reference results."""
    from serving.search import open_index
    from serving.search.ann import set_threads

    set_threads(args.threads)
    queries = np.load(args.work / "query-vectors" / "embeddings.npy")
    truth_path = args.work / "truth.npy"
    truth = np.load(truth_path) if truth_path.is_file() else None
    index = open_index(args.index)
    measured = timed_search(index, queries, truth, args.single_budget_s)
    if args.kind == "exact" and args.quantize == "none":
        np.save(truth_path, measured["ids"])
        measured["recall_at_10"] = 1.0
    del measured["ids"]
    if args.kind == "hnsw":
        sweep = []
        for ef in args.ef_search:
            index.settings["ef_search"] = ef
            point = timed_search(index, queries, truth, args.single_budget_s)
            del point["ids"]
            sweep.append({"ef_search": ef, **point})
        measured["ef_search_sweep"] = sweep
    if args.quantize == "binary":
        sweep = []
        for multiplier in args.rescore_multipliers:
            point = timed_search(index, queries, truth, args.single_budget_s, rescore_multiplier=multiplier)
            del point["ids"]
            sweep.append({"rescore_multiplier": multiplier, **point})
        measured["rescore_sweep"] = sweep
    measured["search_peak_rss_mib"] = round(peak_rss_mib(), 1)
    measured["search_threads"] = args.threads
    return measured


def run_child(args, role: str, kind: str, quantize: str) -> dict | None:
    """The child's measurements, or None when it ran past ``--child-timeout-s``."""
    index = args.work / "indexes" / f"{kind}-{quantize}"
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", role, "--kind", kind, "--quantize", quantize,
        "--index", str(index), "--work", str(args.work), "--threads", str(args.threads),
        "--build-threads", str(args.build_threads), "--ef-construction", str(args.ef_construction),
        "--train-rows", str(args.train_rows),
        "--single-budget-s", str(args.single_budget_s), "--ef-search", *map(str, args.ef_search),
        "--rescore-multipliers", *map(str, args.rescore_multipliers),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd=ROOT, timeout=args.child_timeout_s
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


#: Measuring order: exact search first (it gives the reference results), the slow HNSW builds last.
ANN_ORDER = (
    ("exact", "none"), ("exact", "int8"), ("exact", "binary"), ("ivf-pq", "none"), ("ivf-pq", "int8"),
    ("ivf-pq", "binary"), ("hnsw", "binary"), ("hnsw", "none"), ("hnsw", "int8"),
)  # fmt: skip


def stage_ann(results: dict, args) -> None:
    """Every kind × quantization (or those of ``--indexes``, replacing their rows), each built and then searched in
    its own process; saved after each."""
    chosen = [(kind, quantize) for kind, quantize in ANN_ORDER if f"{kind}/{quantize}" in args.indexes]
    if ("exact", "none") in chosen:
        (args.work / "truth.npy").unlink(missing_ok=True)
    elif not (args.work / "truth.npy").is_file():
        raise SystemExit("exact/none gives the reference results: measure it first (--indexes exact/none ...)")
    previous = results.get("ann", {}).get("indexes", {}) if len(chosen) < len(ANN_ORDER) else {}
    rows = {}
    results["ann"] = {
        "rows": results.get("vectors", {}).get("rows"),
        "queries": int(np.load(args.work / "query-vectors" / "embeddings.npy", mmap_mode="r").shape[0]),
        "top_k": TOP_K,
        "faiss_threads": args.threads,
        "bench_overrides": {"ef_construction": args.ef_construction, "ivf_train_rows": args.train_rows},
        "indexes": rows,
    }
    skipped = dict(entry.split("=", 1) for entry in args.skip)
    for kind, quantize in ANN_ORDER:
        name = f"{kind}/{quantize}"
        if name in skipped:
            rows[name] = {"skipped": skipped[name]}
            continue
        if (kind, quantize) not in chosen:
            if name in previous:
                rows[name] = previous[name]
            continue
        logger.info("building %s", name)
        built = run_child(args, "build", kind, quantize)
        searched = built and run_child(args, "search", kind, quantize)
        if searched is None:
            rows[name] = {"skipped": f"{'build' if built is None else 'search'} ran past {args.child_timeout_s:.0f} s"}
        else:
            rows[name] = {**built, **searched}
        logger.info("%s: %s", name, {k: v for k, v in rows[name].items() if not k.endswith("sweep")})
        save(results, args)


def stsb_retrieval_task() -> tuple[list[str], list[str], list[set[int]]]:
    """STS-B train: (queries: distinct sentence1 of pairs scored >= 4, corpus: distinct sentence2, relevant rows)."""
    from bench.distill_measures import read_tsv

    rows = read_tsv(STSB_TRAIN)
    corpus = list(dict.fromkeys(row["sentence2"] for row in rows))
    position = {text: number for number, text in enumerate(corpus)}
    relevant: dict[str, set[int]] = {}
    for row in rows:
        if float(row["score"]) >= 4:
            relevant.setdefault(row["sentence1"], set()).add(position[row["sentence2"]])
    return list(relevant), corpus, list(relevant.values())


def retrieval_scores(scores: np.ndarray, relevant: list[set[int]]) -> dict:
    """MRR@10, recall@1 and recall@10 (a hit: any relevant row) from a (queries, corpus) score matrix."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
    ranks = [
        next((rank for rank, row in enumerate(rows, 1) if row in wanted), None) for rows, wanted in zip(top, relevant)
    ]
    return {
        "mrr_at_10": round(float(np.mean([1 / r if r else 0.0 for r in ranks])), 4),
        "recall_at_1": round(float(np.mean([r == 1 for r in ranks])), 4),
        "recall_at_10": round(float(np.mean([r is not None for r in ranks])), 4),
    }


def cosine_matrix(queries: np.ndarray, corpus: np.ndarray) -> np.ndarray:
    from serving.corpus.model_info import l2_normalize

    return l2_normalize(np.asarray(queries, np.float32)) @ l2_normalize(np.asarray(corpus, np.float32)).T


TEACHER_SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
from bench.pretrained_baselines import TorchTeacher
with open(sys.argv[1], encoding="utf-8") as handle:
    texts = json.load(handle)
np.save(sys.argv[2], TorchTeacher("float32").encode(texts, 64))
"""


def teacher_vectors(texts: list[str], args) -> np.ndarray:
    """all-MiniLM-L6-v2 (sentence-transformers, float32, 2 threads) in the PyTorch environment."""
    texts_path, vectors_path = args.work / "teacher-texts.json", args.work / "teacher-vectors.npy"
    texts_path.write_text(json.dumps(texts))
    command = [str(args.bench_python), "-c", TEACHER_SCRIPT, str(texts_path), str(vectors_path), str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"the teacher failed:\n{done.stderr[-3000:]}")
    return np.load(vectors_path)


def stage_retrieval(results: dict, args) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from embedder import pretrained

    queries, corpus, relevant = stsb_retrieval_task()
    texts = queries + corpus
    measured = {}
    for name in ("default", "default-fast"):
        embedder = pretrained.load(name)
        started = time.perf_counter()
        vectors = np.asarray(embedder.encode(texts, batch_size=256, show_progress_bar=False))
        seconds = time.perf_counter() - started
        scores = cosine_matrix(vectors[: len(queries)], vectors[len(queries) :])
        measured[name] = {**retrieval_scores(scores, relevant), "encode_s": round(seconds, 1)}
    tfidf = TfidfVectorizer(sublinear_tf=True).fit(texts)
    scores = (tfidf.transform(queries) @ tfidf.transform(corpus).T).toarray()  # rows are L2-normalised
    measured["tfidf"] = retrieval_scores(scores, relevant)
    if args.bench_python.is_file():
        started = time.perf_counter()
        vectors = teacher_vectors(texts, args)
        seconds = time.perf_counter() - started
        scores = cosine_matrix(vectors[: len(queries)], vectors[len(queries) :])
        measured["teacher all-MiniLM-L6-v2"] = {**retrieval_scores(scores, relevant), "encode_s": round(seconds, 1)}
    else:
        logger.warning("%s is missing: no teacher row", args.bench_python)
    results["retrieval"] = {
        "task": "STS-B train: each distinct sentence1 of a pair scored >= 4 retrieves its sentence2 among all "
        "distinct sentence2 (exact cosine search)",
        "queries": len(queries),
        "corpus": len(corpus),
        "models": measured,
    }


def stage_e2e(results: dict, args) -> None:
    from bench.serving_common import ServerProcess
    from serving.corpus.backend_spec import GRPC, BackendSpec
    from serving.search import open_index

    index_dir = args.work / "indexes" / args.e2e_index.replace("/", "-")
    index = open_index(index_dir)
    queries = (args.work / "queries.txt").read_text(encoding="utf-8").split("\n")[: args.e2e_queries]
    base = shipped_export(args.model, args.work).parent
    with ServerProcess(f"--model_name={args.model}", f"--model_base_path={base}") as server:
        spec = BackendSpec(kind=GRPC, target=server.target, model=args.model, version=index.model["version"])
        backend = spec.create()
        try:
            for query in queries[:10]:  # warm
                index.search(backend.embed([query]), TOP_K, model=backend.info, with_text=True)
            embed_ms, total_ms = [], []
            for query in queries:
                started = time.perf_counter()
                vectors = backend.embed([query])
                embedded = time.perf_counter()
                index.search(vectors, TOP_K, model=backend.info, with_text=True)
                done = time.perf_counter()
                embed_ms.append((embedded - started) * 1000)
                total_ms.append((done - started) * 1000)
        finally:
            backend.close()
        process_s = []
        for query in queries[: args.e2e_processes]:
            command = embedder_command("search", str(index_dir), query, "--target", server.target, "--json")
            started = time.perf_counter()
            subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
            process_s.append(time.perf_counter() - started)
    results["e2e"] = {
        "index": args.e2e_index,
        "queries": len(total_ms),
        "server": f"embedder serve (gRPC, in its own process) serving {args.model}",
        "p50_ms": round(float(np.percentile(total_ms, 50)), 2),
        "p99_ms": round(float(np.percentile(total_ms, 99)), 2),
        "embed_p50_ms": round(float(np.percentile(embed_ms, 50)), 2),
        "process_runs": len(process_s),
        "process_median_s": round(float(np.median(process_s)), 2),
    }


def measured_indexes(ann_results: dict) -> dict:
    return {name: row for name, row in ann_results["indexes"].items() if "skipped" not in row}


def hnsw_target_point(ann_results: dict) -> dict | None:
    """The HNSW/none setting with the smallest efSearch reaching recall@10 0.95 (default first), or None."""
    row = measured_indexes(ann_results).get("hnsw/none")
    if row is None:
        return None
    shared = {key: row[key] for key in ("settings", "search_threads") if key in row}
    points = [{"ef_search": row["settings"]["ef_search"], **row}]
    points += [{**shared, **p} for p in row.get("ef_search_sweep", [])]
    return next((p for p in sorted(points, key=lambda p: p["ef_search"]) if p["recall_at_10"] >= 0.95), None)


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, met) for each target of issue 16 that was measured."""
    out = []
    ann_results = results.get("ann")
    if ann_results:
        hnsw = "HNSW at 1 M: recall@10 >= 0.95, >= 1,000 queries/s, p99 <= 10 ms"
        point = hnsw_target_point(ann_results)
        if "hnsw/none" not in measured_indexes(ann_results):
            out.append((hnsw, "hnsw/none not measured (see its row)", "not measured"))
        elif point is None:
            out.append((hnsw, "no efSearch tried reached recall@10 0.95", "no"))
        else:
            cpu = point["batched_cpu_qps"] >= 1000 and point["cpu_p99_ms"] <= 10
            wall = point["batched_qps"] >= 1000 and point["p99_ms"] <= 10
            measured = (
                f"hnsw/none (efConstruction {point['settings']['ef_construction']}, "
                f"{point.get('search_threads', ann_results.get('faiss_threads', 1))} search thread(s)) efSearch "
                f"{point['ef_search']}: recall@10 {point['recall_at_10']:.3f}; CPU clock "
                f"{point['batched_cpu_qps']:,.0f} queries/s batched, p99 {point['cpu_p99_ms']:.2f} ms; wall clock "
                f"{point['batched_qps']:,.0f} queries/s, p99 {point['p99_ms']:.2f} ms"
            )
            out.append((hnsw, measured, f"CPU clock: {'yes' if cpu else 'no'}; wall clock: {'yes' if wall else 'no'}"))
        indexes = measured_indexes(ann_results)
        points = [
            (name, {"rescore_multiplier": row["settings"]["rescore_multiplier"], **row}, row)
            for name, row in indexes.items()
            if name.endswith("/binary")
        ]
        points += [(name, p, row) for name, row in indexes.items() for p in row.get("rescore_sweep", [])]
        if "exact/none" in indexes and points:
            full = indexes["exact/none"]["search_structure_bytes"] / 2**20

            def ratio_of(row: dict) -> float:
                return full / (row["search_structure_bytes"] / 2**20)

            good = [e for e in points if e[1]["recall_at_10"] >= 0.90 and ratio_of(e[2]) >= 20]
            name, point, row = (
                min(good, key=lambda e: e[1]["cpu_p50_ms"]) if good else max(points, key=lambda e: e[1]["recall_at_10"])
            )
            small = row["search_structure_bytes"] / 2**20
            ratio = full / small
            out.append(
                (
                    "binary + rescoring >= 20x smaller than float32 exact, recall@10 >= 0.90",
                    f"{name}, rescore multiplier {point['rescore_multiplier']} ("
                    + ("the fastest meeting both" if good else "none met both; best recall")
                    + f"): searched file {ratio:.0f}x smaller ({small:,.1f} vs {full:,.1f} MiB), recall@10 "
                    f"{point['recall_at_10']:.3f}, CPU p50 {point['cpu_p50_ms']:.2f} ms; the float32 vectors "
                    f"({row['full_precision_vectors_bytes'] / 2**20:,.1f} MiB) stay on disk, memory-mapped, for the "
                    "rescoring",
                    "yes" if ratio >= 20 and point["recall_at_10"] >= 0.90 else "no",
                )
            )
    if results.get("e2e"):
        e2e = results["e2e"]
        out.append(
            (
                "`embedder search` end to end p50 <= 20 ms at 1 M vectors",
                f"p50 {e2e['p50_ms']:.2f} ms, p99 {e2e['p99_ms']:.2f} ms (wall clock; {e2e['index']}, "
                f"{e2e['queries']} queries)",
                "yes" if e2e["p50_ms"] <= 20 else "no",
            )
        )
    return out


def _sweep_table(ann_results: dict, key: str, setting: str, label: str, title: str) -> list[str]:
    """The rows of every index that measured a sweep of one search setting (`key` in its results), or nothing."""
    sweeps = {name: row[key] for name, row in ann_results["indexes"].items() if key in row}
    if not sweeps:
        return []
    lines = ["", title, ""]
    lines += [f"| kind/quantize | {label} | batched q/s wall / CPU | single p50 ms wall / CPU "]
    lines[-1] += "| single p99 ms wall / CPU | recall@10 |"
    lines += ["|---|---|---|---|---|---|"]
    for name, sweep in sweeps.items():
        for p in sweep:
            lines.append(
                f"| {index_label(name, ann_results['indexes'][name])} | {p[setting]} | "
                f"{p['batched_qps']:,.0f} / {p['batched_cpu_qps']:,.0f} | "
                f"{p['p50_ms']:.2f} / {p['cpu_p50_ms']:.2f} | {p['p99_ms']:.2f} / {p['cpu_p99_ms']:.2f} | "
                f"{p['recall_at_10']:.3f} |"
            )
    return lines


def index_label(name: str, row: dict) -> str:
    """kind/quantize, with efConstruction for HNSW kinds."""
    return f"{name} (efC {row['settings']['ef_construction']})" if name.startswith("hnsw/") else name


def threads_label(row: dict, ann_results: dict) -> str:
    """FAISS threads building / searching (rows measured before they were recorded used one setting for both)."""
    both = ann_results.get("faiss_threads", 1)
    return f"{row.get('build_threads', both)} / {row.get('search_threads', both)}"


def ann_lines(results: dict) -> list[str]:
    vectors, ann_results = results.get("vectors", {}), results["ann"]
    lines = [
        f"{ann_results['rows']:,} vectors ({vectors.get('dim')}-d, {vectors.get('source')}"
        + (f"; embedded by `{vectors['model']}` through `embedder embed-corpus`" if "model" in vectors else "")
        + f"), {ann_results['queries']:,} queries, top {TOP_K}; {results['machine']}. Settings are the library's "
        f"defaults (HNSW efConstruction: *efC* in the first column) except IVF training rows "
        f"{ann_results['bench_overrides']['ivf_train_rows']:,}. *Threads*: FAISS threads building / searching (0: "
        "one per core). *Searched* is the file searched (FAISS index, or "
        "the float32 matrix for exact/none); every kind also keeps the float32 vectors on disk for rescoring. RSS "
        "is each process's peak (memory-mapped pages it touched included). Times are given on the wall clock and on "
        "the process's CPU clock (CPU time of all its threads: one FAISS thread searching; numpy's BLAS may use "
        "both cores for exact/none): other work shared the cores, so the wall clock includes waiting for a core, "
        "and the CPU clock is about what free cores give. Single: one query at a time.",
        "",
        "| kind/quantize | threads | build s wall / CPU | searched MiB | RSS MiB build / search "
        "| batched q/s wall / CPU | single p50 ms wall / CPU | single p99 ms wall / CPU | recall@10 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in ann_results["indexes"].items():
        if "skipped" in row:
            lines.append(f"| {name} | | {row['skipped']} | | | | | | |")
            continue
        lines.append(
            f"| {index_label(name, row)} | {threads_label(row, ann_results)} | "
            f"{row['build_s']:,.1f} / {row['build_cpu_s']:,.1f} | "
            f"{row['search_structure_bytes'] / 2**20:,.1f} | {row['build_peak_rss_mib']:,.0f} / "
            f"{row['search_peak_rss_mib']:,.0f} | {row['batched_qps']:,.0f} / {row['batched_cpu_qps']:,.0f} | "
            f"{row['p50_ms']:.2f} / {row['cpu_p50_ms']:.2f} | {row['p99_ms']:.2f} / {row['cpu_p99_ms']:.2f} | "
            f"{row['recall_at_10']:.3f} |"
        )
    hnsw_title = "HNSW at larger efSearch (same indexes):"
    lines += _sweep_table(ann_results, "ef_search_sweep", "ef_search", "efSearch", hnsw_title)
    lines += _sweep_table(
        ann_results,
        "rescore_sweep",
        "rescore_multiplier",
        "multiplier",
        "Binary kinds rescoring more candidates (`--rescore-multiplier`; default 4 above):",
    )
    return lines


def render(results: dict) -> str:
    """The Markdown between the markers in docs/SEARCH.md, from the results alone."""
    lines = ann_lines(results) if results.get("ann") else []
    retrieval = results.get("retrieval")
    if retrieval:
        lines += [
            "",
            f"Retrieval quality. {retrieval['task']}: {retrieval['queries']:,} queries, {retrieval['corpus']:,} "
            "candidates.",
            "",
            "| model | MRR@10 | recall@1 | recall@10 | encode s |",
            "|---|---|---|---|---|",
        ]
        for name, row in retrieval["models"].items():
            encode = f"{row['encode_s']:.1f}" if "encode_s" in row else "-"
            lines.append(
                f"| {name} | {row['mrr_at_10']:.3f} | {row['recall_at_1']:.3f} | {row['recall_at_10']:.3f} | {encode} |"
            )
    e2e = results.get("e2e")
    if e2e:
        lines += [
            "",
            f"End to end ({e2e['server']}; each query embedded through it, then searched in the 1 M {e2e['index']} "
            f"index opened once, as `embedder search --target` does; wall clock): p50 {e2e['p50_ms']:.2f} ms, p99 "
            f"{e2e['p99_ms']:.2f} ms over {e2e['queries']} queries (embedding alone p50 {e2e['embed_p50_ms']:.2f} "
            f"ms). A whole `embedder search` process (start-up, opening the index, one query) took "
            f"{e2e['process_median_s']:.2f} s (median of {e2e['process_runs']}).",
        ]
    checks = targets(results)
    if checks:
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {target} | {measured} | {met} |" for target, measured, met in checks]
    return "\n".join(lines) + "\n"


def update_doc(path: Path, text: str) -> None:
    """Replaces what lies between the markers in `path` with `text`."""
    doc = path.read_text(encoding="utf-8")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{text}{END}{tail}", encoding="utf-8")


def doc_section(path: Path) -> str:
    """What lies between the markers in `path` (the rendered table)."""
    return path.read_text(encoding="utf-8").split(BEGIN, 1)[1].split(END, 1)[0].removeprefix("\n")


def plot(results: dict, path: Path) -> None:
    from bench.serving_common import pyplot

    plt = pyplot()
    indexes = measured_indexes(results["ann"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    markers = {"exact": "s", "hnsw": "o", "ivf-pq": "^"}
    for name, row in indexes.items():
        kind = name.split("/")[0]
        left.scatter(row["batched_qps"], row["recall_at_10"], marker=markers[kind], s=50)
        left.annotate(
            name, (row["batched_qps"], row["recall_at_10"]), fontsize=7, xytext=(4, 3), textcoords="offset points"
        )
        if "ef_search_sweep" in row:
            points = [{"ef_search": row["settings"]["ef_search"], **row}] + row["ef_search_sweep"]
            left.plot([p["batched_qps"] for p in points], [p["recall_at_10"] for p in points], lw=0.8, alpha=0.6)
    left.axhline(0.95, ls=":", color="grey")
    left.set_xscale("log")
    left.set_xlabel("queries/s, batched (top 10, wall clock)")
    left.set_ylabel("recall@10 vs exact")
    left.set_title(f"{results['ann']['rows']:,} vectors; lines: HNSW efSearch sweep")
    names = list(indexes)
    right.barh(names, [indexes[n]["search_structure_bytes"] / 2**20 for n in names])
    right.set_xscale("log")
    right.set_xlabel("MiB searched (FAISS file, or float32 matrix)")
    right.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(results: dict, args) -> None:
    save(results, args)
    if results.get("ann"):
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot(results, args.plot)
    if args.doc:
        update_doc(Path(args.doc), render(results))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--quick", action="store_true", help="random vectors, small sizes, stages vectors ann report")
    parser.add_argument("--work", type=Path, default=WORK, help="vectors, indexes and models (cached)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--doc", default=str(DOC), help="the Markdown file whose table to rewrite ('': none)")
    parser.add_argument("--model", default="default-fast", help="shipped model that embeds corpus and queries")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384, help="--quick: the random vectors' width")
    parser.add_argument("--lines-per-file", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=1, help="FAISS threads (0: one per core)")
    parser.add_argument("--build-threads", type=int, default=0, help="FAISS threads while building (0: one per core)")
    parser.add_argument("--ef-construction", type=int, default=200, help="HNSW build (the library's default)")
    parser.add_argument("--train-rows", type=int, default=65_536, help="IVF training sample (0: library default)")
    parser.add_argument("--ef-search", type=int, nargs="+", default=[256, 512], help="HNSW sweep beyond default")
    parser.add_argument("--rescore-multipliers", type=int, nargs="+", default=[10], help="binary kinds' sweep")
    parser.add_argument("--single-budget-s", type=float, default=20.0, help="seconds of one-at-a-time queries")
    parser.add_argument(
        "--indexes", nargs="+", default=[f"{k}/{q}" for k, q in ANN_ORDER], help="kind/quantize pairs to measure"
    )
    parser.add_argument("--skip", nargs="+", default=[], metavar="KIND/QUANTIZE=REASON", help="not measured, why")
    parser.add_argument("--child-timeout-s", type=float, default=1800, help="a build or search past it is skipped")
    parser.add_argument("--e2e-index", default="hnsw/none", help="the 1 M index searched end to end")
    parser.add_argument("--e2e-queries", type=int, default=200)
    parser.add_argument("--e2e-processes", type=int, default=5, help="whole `embedder search` processes timed")
    parser.add_argument("--bench-python", type=Path, default=BENCH_PYTHON, help="PyTorch venv for the teacher")
    parser.add_argument("--child", choices=("build", "search"), help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--quantize", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        if args.stages == list(STAGES):
            args.stages = ["vectors", "ann", "report"]
        if "--rows" not in (argv if argv is not None else sys.argv):
            args.rows = 3000
        args.queries, args.dim, args.single_budget_s = min(args.queries, 100), min(args.dim, 64), 0.2
        args.ef_search = args.ef_search[:1]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.child:
        measured = (child_build if args.child == "build" else child_search)(args)
        print(json.dumps(measured))
        return 0
    fresh = args.quick and "vectors" in args.stages  # a smoke run starts from nothing
    results = json.loads(args.results.read_text()) if args.results.is_file() and not fresh else {}
    results.setdefault("machine", f"{os.cpu_count()} cores, shared with other work; processes at nice 19")
    stages = {"vectors": stage_vectors, "ann": stage_ann, "retrieval": stage_retrieval, "e2e": stage_e2e}
    for name in args.stages:
        if name in stages:
            stages[name](results, args)
            save(results, args)
    if "report" in args.stages:
        report(results, args)
    return 0


def save(results: dict, args) -> None:
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
