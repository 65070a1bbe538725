"""`embedder quickstart` (what `make run` runs): export the shipped model if none is there, serve it, call it.

    embedder quickstart                  # models/default from the shipped general-purpose model if missing;
                                         # served on 127.0.0.1:8500 until Ctrl-C
    embedder quickstart --train FILE     # train a task model on a labelled file instead
    embedder quickstart --train bundled  # ... on the bundled TREC questions
    embedder quickstart --no-serve       # export if needed, call once, exit

The steps are functions of `embedder.cli.quickstart_demo`. TensorFlow is imported only when the server starts.
"""

from __future__ import annotations

import argparse

from embedder import contract
from embedder.cli import default_of
from embedder.cli.quickstart_demo import QuickstartSettings


def _default(name: str):
    return default_of(QuickstartSettings, name)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "quickstart",
        help="export the shipped model if none is exported, serve it on 127.0.0.1:8500 and call it (make run)",
        description="The one command: exports the general-purpose model shipped with the package (distilled "
        "from all-MiniLM-L6-v2) as MODELS/default if that holds no version (seconds), starts the embedded "
        "server, embeds a few sentences over gRPC, prints their cosine similarities and a small semantic "
        "search, then serves until Ctrl-C. With --train FILE it trains a task model on FILE instead.",
    )
    parser.add_argument("--models-dir", default=_default("models_dir"), help="where models live (default: %(default)s)")
    parser.add_argument(
        "--model-name", default=_default("model_name"), help="the default model's name (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=_default("port"), help="gRPC port (default %(default)s; 0: any free port)"
    )
    parser.add_argument("--host", default=_default("host"), help="address to bind (default %(default)s)")
    parser.add_argument(
        "--pretrained", default=_default("pretrained"), help="the shipped model to export (default: %(default)s)"
    )
    parser.add_argument("--retrain", action="store_true", help="export (or train) a new version even if one exists")
    parser.add_argument(
        "--epochs", type=int, default=_default("epochs"), help="most training epochs (default %(default)s)"
    )
    parser.add_argument(
        "--arch",
        default=_default("architecture"),
        choices=contract.ARCHITECTURES,
        help="the encoder trained with --train (default %(default)s)",
    )
    parser.add_argument(
        "--train",
        metavar="FILE",
        help="train a task model on a labelled TSV/CSV/JSONL file ('bundled': the bundled TREC questions) "
        "instead of exporting the shipped model",
    )
    parser.add_argument("--encoder", nargs="+", metavar="KEY=VALUE", help="encoder arguments for training")
    parser.add_argument("--work-dir", default=_default("work_dir"), help="training checkpoints (default %(default)s)")
    parser.add_argument("--no-serve", action="store_true", help="exit after the demonstration call")
    parser.set_defaults(handler=run_quickstart)


def run_quickstart(args: argparse.Namespace) -> int:
    import time

    from embedder.cli import CommandError
    from embedder.cli.quickstart_demo import (
        bundled_training_data,
        demo,
        ensure_model,
        next_steps,
        search_demo,
        start_server,
    )

    if args.epochs <= 0:
        raise CommandError(f"--epochs must be a positive integer, received {args.epochs}")
    settings = QuickstartSettings(
        models_dir=args.models_dir,
        model_name=args.model_name,
        pretrained=args.pretrained,
        architecture=args.arch,
        epochs=args.epochs,
        train_path=str(bundled_training_data()) if args.train == "bundled" else args.train,
        encoder=tuple(args.encoder or ()),
        work_dir=args.work_dir,
        host=args.host,
        port=args.port,
        retrain=args.retrain,
    )
    try:
        ensure_model(settings)
    except RuntimeError as error:
        raise CommandError(str(error)) from None
    print(f"Starting the embedded server on {settings.host}:{settings.port} ...", flush=True)
    try:
        server = start_server(settings)
    except OSError as error:
        raise CommandError(f"{error} Is another server using it? Pick another with --port.") from None
    try:
        print(demo(server.target, settings.model_name), flush=True)
        if not settings.train_path:
            print("\n" + search_demo(server.target, settings.model_name), flush=True)
        print(next_steps(server.target, settings.model_name), flush=True)
        if args.no_serve:
            return 0
        print(f"\nServing {settings.model_base_path} on {server.target}. Press Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nStopping the server.", flush=True)
        return 0
    finally:
        server.stop()
