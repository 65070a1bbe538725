"""`embedder info`: what an exported model is (the metadata a client also gets over gRPC)."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="show an exported model's metadata and versions")
    parser.add_argument("path", help="a model base path (models/NAME) or one version directory")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_info)


def run_info(args: argparse.Namespace) -> int:
    from pathlib import Path

    from embedder import contract
    from embedder.cli import CommandError
    from embedder.versions import numeric_versions, resolve_version_dir

    try:
        version_dir = resolve_version_dir(args.path)
    except FileNotFoundError as error:
        raise CommandError(str(error)) from None
    metadata = json.loads((version_dir / contract.ASSETS_EXTRA_DIR / contract.METADATA_FILE).read_text("utf-8"))
    versions = numeric_versions(Path(args.path)) if version_dir != Path(args.path) else [int(version_dir.name)]
    if args.json:
        print(json.dumps({"version_dir": str(version_dir), "versions": versions, **metadata}, indent=2))
        return 0
    print(f"{version_dir}  (versions present: {', '.join(map(str, versions))})")
    for key in (
        contract.META_ARCHITECTURE,
        contract.META_EMBEDDING_DIM,
        contract.META_MAX_LENGTH,
        contract.META_ATTENTION_ROWS,
        contract.META_VOCABULARY_SIZE,
        contract.META_LABELS,
        contract.META_CREATED,
    ):
        print(f"  {key:16s} {metadata.get(key)}")
    return 0
