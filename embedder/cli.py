"""The `embedder` command: one entry point, one subcommand per verb.

Each subcommand lives beside the library code it drives, in a module with ``register(subparsers)``, which adds
its parser and sets ``handler``. Modules are imported when the parser is built, so they must not import
TensorFlow at module level: ``embedder --help`` and the client commands stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

#: Modules that register subcommands, in the order `--help` lists them.
COMMAND_MODULES = (
    "embedder.commands",  # info
    "embedder.pretrained_cli",  # pretrained list | show | export | pack
    "serving.quickstart_cli",  # quickstart (make run)
    "training.commands",  # train, finetune, evaluate, explain
    "training.distill_cli",  # distill
    "serving.server_cli",  # serve
    "serving.client_cli",  # embed
    "serving.corpus_cli",  # embed-corpus
    "serving.search_cli",  # index, search, dedupe
)


class CommandError(Exception):
    """A user error that the CLI reports as one line on stderr with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embedder", description="Train, export, serve and call attention-based sentence embedders."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.handler(args) or 0)
    except CommandError as error:
        print(f"embedder {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"embedder {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
