"""`embedder pretrained`: the models shipped inside the package (`embedder.pretrained`).

    embedder pretrained list                                  # names, sizes and measured quality
    embedder pretrained show default                          # the model card
    embedder pretrained export default --out models/default   # a string-in SavedModel version, in seconds
    embedder pretrained pack models/student/1 --out embedder/pretrained/default --command "embedder distill ..."

TensorFlow is imported only by `export` and `pack`.
"""

from __future__ import annotations

import argparse
import json

from embedder import contract, pretrained
from embedder.cli import default_of


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrained",
        help="list, show and export the pretrained models shipped with the package",
        description="The package ships distilled general-purpose models (see `embedder pretrained list`). "
        "`export` writes one as a servable SavedModel version; `embedder finetune --from NAME` starts from one.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="the shipped models")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="print a shipped model's card")
    show.add_argument("name")
    show.set_defaults(handler=run_show)
    export = actions.add_parser("export", help="export a shipped model as OUT/<version>/ (a SavedModel)")
    export.add_argument("name", help="a shipped model (see `embedder pretrained list`)")
    export.add_argument("--out", required=True, metavar="BASE_PATH", help="model base path, e.g. models/default")
    export.add_argument("--version", type=int, help="version number (default: the next one)")
    export.add_argument(
        "--precision",
        choices=contract.EXPORT_PRECISIONS,
        default=default_of(pretrained.export, "precision"),
        help="what the export computes in (default %(default)s; see `embedder export`)",
    )
    export.set_defaults(handler=run_export)
    pack = actions.add_parser("pack", help="store a distilled export as a shipped-model folder")
    pack.add_argument("source", help="an `embedder distill` export (base path or version directory)")
    pack.add_argument("--out", required=True, help="the folder to write, e.g. embedder/pretrained/NAME")
    pack.add_argument(
        "--embedding-storage",
        choices=pretrained.EMBEDDING_STORAGES,
        default=default_of(pretrained.pack, "embedding_storage"),
        help="the token embedding's storage (default %(default)s)",
    )
    pack.add_argument(
        "--dense-storage",
        choices=pretrained.DENSE_STORAGES,
        default=default_of(pretrained.pack, "dense_storage"),
        help="the other weights' storage (default %(default)s)",
    )
    pack.add_argument("--provenance", metavar="FILE.json", help="what made the model, stored in config.json")
    pack.set_defaults(handler=run_pack)


def _summary(name: str) -> dict:

    config = pretrained.read_config(name)
    folder = pretrained.model_dir(name)
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    results = config.get("provenance", {}).get("results", {})
    return {
        "name": name,
        "architecture": config["architecture"],
        "dimension": config["teacher_dim"],
        "vocabulary": config["encoder"].get("vocabulary_size") or sum(1 for _ in open(folder / "vocabulary.txt")),
        "size_mib": round(size / 2**20, 2),
        "stsb_dev_spearman": results.get("stsb_dev_spearman"),
    }


def run_list(args: argparse.Namespace) -> int:

    rows = [_summary(name) for name in pretrained.available()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("No shipped models in this install.")
        return 0
    print(f"{'name':14s} {'architecture':12s} {'dim':>4s} {'MiB':>6s} {'STS-B dev':>9s}")
    for row in rows:
        score = row["stsb_dev_spearman"]
        print(
            f"{row['name']:14s} {row['architecture']:12s} {row['dimension']:4d} {row['size_mib']:6.2f} "
            f"{score if score is not None else '-':>9}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError

    try:
        print((pretrained.model_dir(args.name) / pretrained.CARD_FILE).read_text("utf-8"))
    except (ValueError, FileNotFoundError) as error:
        raise CommandError(str(error)) from None
    return 0


def run_export(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError

    try:
        pretrained.model_dir(args.name)
        path = pretrained.export(args.name, args.out, version=args.version, precision=args.precision)
    except (ValueError, FileExistsError, OSError) as error:
        raise CommandError(str(error)) from None
    print(f"exported {args.name!r} to {path}")
    return 0


def run_pack(args: argparse.Namespace) -> int:
    from pathlib import Path

    from embedder.cli import CommandError

    provenance = json.loads(Path(args.provenance).read_text("utf-8")) if args.provenance else None
    try:
        out = pretrained.pack(args.source, args.out, args.embedding_storage, args.dense_storage, provenance)
    except (ValueError, FileNotFoundError, OSError) as error:
        raise CommandError(str(error)) from None
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"packed {args.source} into {out} ({size / 2**20:.2f} MiB)")
    return 0
