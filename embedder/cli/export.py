"""`embedder export`: a model exported again as a new version, e.g. computing in bfloat16.

embedder export models/default --out models/default --precision bfloat16   # the next version, in bfloat16
embedder export default --out models/default-bf16 --precision bfloat16     # a shipped model by name
"""

from __future__ import annotations

import argparse

from embedder import contract, pretrained
from embedder.cli import default_of


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model again as a new SavedModel version (e.g. computing in bfloat16)",
        description="Loads an exported model (base path or version directory) or a shipped model by name and "
        "writes it as a new version under --out, keeping its run settings.",
    )
    parser.add_argument("source", help="a model base path, a version directory, or a shipped model's name")
    parser.add_argument("--out", required=True, metavar="BASE_PATH", help="model base path of the new version")
    parser.add_argument("--version", type=int, help="version number (default: the next one)")
    parser.add_argument(
        "--precision",
        choices=contract.EXPORT_PRECISIONS,
        default=default_of(pretrained.export, "precision"),
        help="what the export computes in; bfloat16 keeps softmax and outputs in float32 (default %(default)s)",
    )
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from embedder.cli import CommandError
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.versions import resolve_version_dir

    try:
        if not Path(args.source).exists() and args.source in pretrained.available():
            path = pretrained.export(args.source, args.out, version=args.version, precision=args.precision)
        else:
            version_dir = resolve_version_dir(args.source)
            run_config = version_dir / contract.ASSETS_EXTRA_DIR / contract.RUN_CONFIG_FILE
            document = json.loads(run_config.read_text("utf-8")) if run_config.is_file() else None
            embedder = SentenceEmbedder.load(version_dir)
            path = embedder.export(args.out, version=args.version, run_config=document, precision=args.precision)
    except (ValueError, FileExistsError, FileNotFoundError, OSError) as error:
        raise CommandError(str(error)) from None
    print(f"exported {args.source} to {path} ({args.precision})")
    return 0
