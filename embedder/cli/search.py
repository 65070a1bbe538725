"""`embedder index`, `embedder search`, `embedder dedupe`: semantic search over `embed-corpus` outputs.

    embedder index vectors/ --out index/ --kind hnsw --quantize int8
    embedder index more-vectors/ --out index/ --add
    embedder search index/ "How far is the moon?" --top-k 5 --target localhost:8500
    embedder search index/ "How far is the moon?" --saved-model models/default --json
    embedder dedupe vectors/ --threshold 0.9 --clusters

The library behind them is `serving.search`; docs/SEARCH.md has the details. Building and de-duplicating need no
TensorFlow; `search --saved-model` imports it to embed the queries in-process, `search --target` only the client.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from embedder.cli import default_of
from serving.search import ann
from serving.search.dedupe import find_duplicates
from serving.search.index_builder import IndexBuildConfig
from serving.search.search_index import SearchIndex


def register(subparsers) -> None:
    _register_index(subparsers)
    _register_search(subparsers)
    _register_dedupe(subparsers)


def _register_index(subparsers) -> None:
    defaults = ann.AnnParams()
    parser = subparsers.add_parser(
        "index",
        help="build a search index (exact, HNSW or IVF-PQ; float, int8 or binary) from embed-corpus output",
        description="Builds a search index from an embed-corpus output (npy or Parquet), streaming and resumable, "
        "with a manifest naming the model version. --add appends another output to a finished index; --shard I/N "
        "indexes one shard (query the shard indexes together by giving their parent directory to search).",
    )
    parser.add_argument("vectors", metavar="VECTORS_DIR", help="an embed-corpus output directory")
    parser.add_argument("--out", required=True, metavar="INDEX_DIR", help="the index directory (created if absent)")
    parser.add_argument(
        "--kind",
        choices=ann.KINDS,
        help=f"exact (matrix product), hnsw or ivf-pq (default {ann.EXACT}; with --add or --resume the index's)",
    )
    parser.add_argument(
        "--quantize",
        choices=ann.QUANTIZATIONS,
        help="codes searched: float32, 8-bit scalar or 1-bit sign; quantized kinds rescore with float32 "
        f"(default {ann.NONE}; with --add or --resume the index's)",
    )
    parser.add_argument("--shard", metavar="I/N", help="index only shard I of N (npy: row ranges; Parquet: files)")
    job = parser.add_mutually_exclusive_group()
    job.add_argument("--add", action="store_true", help="append these vectors to the finished index in --out")
    job.add_argument("--resume", action="store_true", help="continue an interrupted build")
    job.add_argument("--overwrite", action="store_true", help="replace the index in --out")
    tuning = parser.add_argument_group("index settings")
    tuning.add_argument(
        "--hnsw-m", type=int, default=defaults.hnsw_m, metavar="N", help="HNSW links per node (%(default)s)"
    )
    tuning.add_argument(
        "--ef-construction",
        type=int,
        default=defaults.ef_construction,
        metavar="N",
        help="HNSW build depth (%(default)s)",
    )
    tuning.add_argument(
        "--ef-search", type=int, default=defaults.ef_search, metavar="N", help="HNSW search depth (%(default)s)"
    )
    tuning.add_argument(
        "--nlist",
        type=int,
        default=defaults.nlist,
        metavar="N",
        help="IVF lists (default %(default)s: about 4·sqrt(rows))",
    )
    tuning.add_argument(
        "--nprobe", type=int, default=defaults.nprobe, metavar="N", help="IVF lists searched (%(default)s)"
    )
    tuning.add_argument(
        "--pq-m", type=int, default=defaults.pq_m, metavar="N", help="PQ sub-quantizers (default %(default)s: dim/4)"
    )
    tuning.add_argument(
        "--train-rows",
        type=int,
        default=defaults.train_rows,
        metavar="N",
        help="training sample (default %(default)s: max(64·nlist, 20000))",
    )
    tuning.add_argument(
        "--rescore-multiplier",
        type=int,
        default=defaults.rescore_multiplier,
        metavar="N",
        help="quantized kinds: candidates per result rescored with float32 (%(default)s)",
    )
    tuning.add_argument(
        "--chunk-rows",
        type=int,
        default=default_of(IndexBuildConfig, "chunk_rows"),
        metavar="N",
        help="rows per step (%(default)s)",
    )
    tuning.add_argument(
        "--checkpoint-rows",
        type=int,
        default=default_of(IndexBuildConfig, "checkpoint_rows"),
        metavar="N",
        help="rows between FAISS checkpoints (%(default)s)",
    )
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a tty)"
    )
    parser.set_defaults(handler=run_index)


def _register_search(subparsers) -> None:
    parser = subparsers.add_parser(
        "search",
        help="search an index with sentences embedded by the index's model version (server or SavedModel)",
        description="Embeds the queries with the model version the index was built from (through a server with "
        "--target, or in-process with --saved-model), searches the index, and prints rank, score, corpus id and "
        "the sentence when the index kept it. INDEX_DIR may be a directory of shard indexes: they are searched "
        "together and their results merged.",
    )
    parser.add_argument("index", metavar="INDEX_DIR", help="an index directory, or a directory of shard indexes")
    parser.add_argument("queries", nargs="*", metavar="QUERY", help="query sentences")
    parser.add_argument("--queries-file", metavar="FILE", help="more queries, one a line")
    parser.add_argument(
        "--top-k",
        type=int,
        default=default_of(SearchIndex.search, "top_k"),
        metavar="K",
        help="results per query (%(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON: one object per query with its results")
    parser.add_argument(
        "--rescore-multiplier", type=int, metavar="N", help="quantized kinds: candidates per result (index's setting)"
    )
    model = parser.add_argument_group("model (one of --target or --saved-model)")
    model.add_argument("--target", metavar="HOST:PORT", help="a TF Serving / embedder serve gRPC address")
    model.add_argument("--model", metavar="NAME", help="the served model's name (default: the index's model name)")
    model.add_argument("--saved-model", metavar="PATH", help="a SavedModel version directory or model base path")
    model.add_argument(
        "--model-version", type=int, metavar="N", help="the version to embed with (default: the index's version)"
    )
    model.add_argument("--timeout", type=float, default=30.0, metavar="S", help="gRPC: seconds per request (30)")
    model.add_argument("--tls", action="store_true", help="gRPC over TLS")
    model.add_argument("--root-certificates", metavar="PEM", help="gRPC: CA certificate file to trust (implies TLS)")
    parser.set_defaults(handler=run_search)


def _register_dedupe(subparsers) -> None:
    parser = subparsers.add_parser(
        "dedupe",
        help="list near-duplicate pairs (or clusters) of an embed-corpus output, chunked",
        description="Compares every row of an embed-corpus output with every other, one block at a time (no "
        "all-pairs matrix in memory), and lists the pairs whose cosine similarity reaches --threshold, best first; "
        "--clusters joins them into groups.",
    )
    parser.add_argument("vectors", metavar="VECTORS_DIR", help="an embed-corpus output directory")
    parser.add_argument(
        "--threshold",
        type=float,
        default=default_of(find_duplicates, "threshold"),
        metavar="COS",
        help="smallest similarity (%(default)s)",
    )
    parser.add_argument("--clusters", action="store_true", help="print groups of near-duplicates instead of pairs")
    parser.add_argument(
        "--max-pairs",
        type=int,
        default=default_of(find_duplicates, "max_pairs"),
        metavar="N",
        help="keep the best N pairs (%(default)s)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=default_of(find_duplicates, "query_chunk_size"),
        metavar="N",
        help="rows compared at once (%(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_dedupe)


def run_index(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError
    from serving.search.index_builder import BuildRefused, IndexExists, build_index
    from serving.search.index_manifest import ModelMismatch

    try:
        config = IndexBuildConfig(
            vectors=args.vectors,
            output=args.out,
            kind=args.kind,
            quantize=args.quantize,
            shard=args.shard,
            params=ann.AnnParams(
                hnsw_m=args.hnsw_m,
                ef_construction=args.ef_construction,
                ef_search=args.ef_search,
                nlist=args.nlist,
                nprobe=args.nprobe,
                pq_m=args.pq_m,
                train_rows=args.train_rows,
                rescore_multiplier=args.rescore_multiplier,
            ),
            add=args.add,
            resume=args.resume,
            overwrite=args.overwrite,
            chunk_rows=args.chunk_rows,
            checkpoint_rows=args.checkpoint_rows,
            progress=args.progress,
        )
        manifest = build_index(config)
    except (BuildRefused, IndexExists, ModelMismatch, FileNotFoundError, ValueError, ImportError) as error:
        raise CommandError(str(error)) from None
    model = manifest.model
    print(
        f"{manifest.rows} rows (dim {manifest.dim}, {len(manifest.segments)} segment(s)) indexed as "
        f"{manifest.kind}/{manifest.quantize} in {args.out}, from {model['name']} version {model['version']}."
    )
    return 0


def _read_queries(args) -> list[str]:
    from embedder.cli import CommandError

    queries = list(args.queries)
    if args.queries_file:
        try:
            with open(args.queries_file, encoding="utf-8") as handle:
                queries += [line.rstrip("\n") for line in handle if line.strip()]
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read --queries-file {args.queries_file}: {error}") from None
    if not queries:
        raise CommandError("give at least one query sentence (arguments or --queries-file)")
    return queries


def _backend(args, index):
    """The backend that embeds the queries, pinned to the index's model version unless told otherwise."""
    from embedder.cli import CommandError
    from serving.client.errors import EmbeddingError
    from serving.corpus.backend_spec import GRPC, SAVED_MODEL, BackendSpec

    if bool(args.saved_model) == bool(args.target):
        raise CommandError("embed the queries with either --target HOST:PORT or --saved-model PATH")
    version = args.model_version
    if version is None and args.target:
        version = index.model.get("version")  # ask the server for the index's version by number
    elif version is None and index.model.get("version") is not None:
        # A model base path that holds the index's version: use it (else the latest, which the check may refuse).
        candidate = os.path.join(args.saved_model, str(index.model["version"]))
        if "://" not in args.saved_model and os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            version = index.model["version"]
    try:
        spec = BackendSpec(
            kind=SAVED_MODEL if args.saved_model else GRPC,
            saved_model=args.saved_model,
            target=args.target,
            model=args.model or index.model.get("name"),
            version=version,
            timeout=args.timeout,
            tls=args.tls,
            root_certificates=args.root_certificates,
        )
        return spec.create()
    except (EmbeddingError, FileNotFoundError, ValueError) as error:
        where = args.saved_model or f"{args.model or index.model.get('name')!r} version {version} at {args.target}"
        raise CommandError(f"cannot use the model {where}: {error}") from None


def run_search(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError
    from serving.client.errors import EmbeddingError
    from serving.search.index_manifest import ModelMismatch
    from serving.search.search_index import open_index

    queries = _read_queries(args)
    try:
        index = open_index(args.index)
    except (FileNotFoundError, ValueError, ImportError) as error:
        raise CommandError(str(error)) from None
    backend = _backend(args, index)
    try:
        vectors = backend.embed(queries)
        results = index.search(
            vectors,
            args.top_k,
            model=backend.info,
            with_text=True,
            rescore_multiplier=args.rescore_multiplier,
        )
    except (ModelMismatch, ValueError) as error:
        raise CommandError(str(error)) from None
    except EmbeddingError as error:
        raise CommandError(f"cannot embed the queries: {error}") from None
    finally:
        backend.close()
    if args.json:
        json.dump([{"query": q, "results": r} for q, r in zip(queries, results)], sys.stdout, ensure_ascii=False)
        print()
        return 0
    for query, hits in zip(queries, results):
        print(f"query: {query}")
        for rank, hit in enumerate(hits, 1):
            text = f"  {hit['text']}" if "text" in hit else ""
            print(f"{rank:4d}  {hit['score']:.4f}  {hit['corpus_id']:>10d}{text}")
    return 0


def run_dedupe(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError
    from serving.corpus.output_reader import read_corpus_output
    from serving.search.dedupe import duplicate_clusters

    try:
        output = read_corpus_output(args.vectors)
        pairs = find_duplicates(
            output.embeddings,
            args.threshold,
            ids=output.ids,
            query_chunk_size=args.chunk_size,
            corpus_chunk_size=4 * args.chunk_size,
            max_pairs=args.max_pairs,
        )
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    text_of = None
    if output.texts is not None:
        by_id = dict(zip(output.ids.tolist(), output.texts))
        text_of = by_id.get
    if args.clusters:
        clusters = duplicate_clusters(pairs)
        if args.json:
            groups = [[{"corpus_id": i, **({"text": text_of(i)} if text_of else {})} for i in c] for c in clusters]
            json.dump(groups, sys.stdout, ensure_ascii=False)
            print()
            return 0
        for number, cluster in enumerate(clusters, 1):
            print(f"cluster {number} ({len(cluster)} rows):")
            for corpus_id in cluster:
                print(f"  {corpus_id:>10d}" + (f"  {text_of(corpus_id)}" if text_of else ""))
        return 0
    if args.json:
        documents = [
            {
                "score": s,
                "corpus_id_a": a,
                "corpus_id_b": b,
                **({"text_a": text_of(a), "text_b": text_of(b)} if text_of else {}),
            }
            for s, a, b in pairs
        ]
        json.dump(documents, sys.stdout, ensure_ascii=False)
        print()
        return 0
    for score, a, b in pairs:
        texts = f"  {text_of(a)}  |  {text_of(b)}" if text_of else ""
        print(f"{score:.4f}  {a:>10d}  {b:>10d}{texts}")
    print(f"{len(pairs)} pairs at or above {args.threshold}.", file=sys.stderr)
    return 0
