"""`embedder embed`: embed sentences with a served model from the command line (no TensorFlow needed).

    embedder embed --target localhost:8500 --model default "a good film" "a bad film"
    embedder embed --target localhost:8500 --model default --format similarity "a good film" "a bad film" "great"
    cat sentences.txt | embedder embed --target localhost:8500 --model default - --out vectors.npy

Output formats: ``tsv`` (the default: one line per sentence, the sentence, a tab, then the vector's numbers),
``json`` (one JSON object per line), ``similarity`` (the cosine similarity of every pair, as a table); ``--out``
saves the (n, dim) float32 array as .npy instead. A server error is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from embedder import contract

FORMATS = ("tsv", "json", "similarity")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "embed",
        help="embed sentences with a served model (TF Serving or `embedder serve`) over gRPC",
        description="Embed sentences with a model served over TF Serving's gRPC API.",
    )
    parser.add_argument("sentences", nargs="+", metavar="SENTENCE", help="sentences to embed; - reads one per line")
    parser.add_argument("--target", default="localhost:8500", help="the server's host:port (default: %(default)s)")
    parser.add_argument("--model", default="default", help="the model name (default: %(default)s)")
    parser.add_argument("--version", type=int, default=None, help="the model version (default: the latest)")
    parser.add_argument(
        "--signature", default=None, help=f"the embedding signature (default: {contract.SIGNATURE_EMBED})"
    )
    parser.add_argument("--normalize", action="store_true", help="scale each vector to unit L2 norm")
    parser.add_argument("--format", choices=FORMATS, default="tsv", help="output format (default: %(default)s)")
    parser.add_argument("--out", metavar="FILE.npy", help="save the (n, dim) float32 array instead of printing it")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole call (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per request (default: %(default)s)")
    parser.add_argument("--tls", action="store_true", help="connect with TLS (system root certificates)")
    parser.add_argument("--root-certificates", metavar="PEM", help="CA certificate file to trust (implies --tls)")
    parser.set_defaults(handler=run_embed)


def _read_sentences(arguments: list[str]) -> list[str]:
    sentences = []
    for argument in arguments:
        if argument == "-":
            # One sentence a line; blank lines separate nothing worth embedding.
            sentences.extend(line.rstrip("\r\n") for line in sys.stdin if line.strip())
        else:
            sentences.append(argument)
    return sentences


def _print(sentences: list[str], vectors, output_format: str) -> None:

    from embedder.contract import l2_normalize

    if output_format == "json":
        for sentence, vector in zip(sentences, vectors):
            print(json.dumps({"sentence": sentence, "embedding": [round(float(x), 6) for x in vector]}))
    elif output_format == "similarity":
        unit = l2_normalize(vectors)
        similarity = unit @ unit.T  # (n, n)
        for i, sentence in enumerate(sentences, start=1):
            print(f"{i:>4d}  {sentence}")
        print("      " + "".join(f"{i:>7d}" for i in range(1, len(sentences) + 1)))
        for i, row in enumerate(similarity, start=1):
            print(f"{i:>4d}  " + "".join(f"{value:7.3f}" for value in row))
    else:
        for sentence, vector in zip(sentences, vectors):
            text = sentence.replace("\t", " ").replace("\n", " ")
            print(text + "\t" + " ".join(f"{float(x):.6g}" for x in vector))


def run_embed(args: argparse.Namespace) -> int:
    import numpy as np

    from embedder.cli import CommandError
    from serving.client.embedding_client import EmbeddingClient
    from serving.client.errors import EmbeddingError, Unavailable

    sentences = _read_sentences(args.sentences)
    if not sentences:
        raise CommandError("no sentences to embed (stdin was empty)")
    kwargs = dict(
        version=args.version,
        timeout=args.timeout,
        max_batch_size=args.batch_size,
        tls=args.tls or bool(args.root_certificates),
        root_certificates=args.root_certificates,
    )
    if args.signature:
        kwargs["signature"] = args.signature
    try:
        with EmbeddingClient(args.target, args.model, **kwargs) as client:
            vectors = client.embed(sentences, normalize=args.normalize)
    except Unavailable as error:
        print(f"embedder embed: error: cannot reach {args.target}: {error.details}", file=sys.stderr)
        return 1
    except EmbeddingError as error:
        if error.code is None:  # refused before sending, e.g. a sentence over the message limit
            raise CommandError(str(error)) from None
        print(f"embedder embed: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:  # a bad option value, an unreadable certificate file
        raise CommandError(str(error)) from None
    if args.out:
        try:
            np.save(args.out, vectors)
        except OSError as error:
            raise CommandError(f"cannot write {args.out}: {error}") from None
        print(f"saved {vectors.shape[0]} x {vectors.shape[1]} embeddings to {args.out}", file=sys.stderr)
        return 0
    _print(sentences, vectors, args.format)
    return 0
