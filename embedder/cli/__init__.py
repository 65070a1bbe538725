"""The `embedder` command: one entry point, one subcommand per verb, every one of them in this folder.

The command line sits above the three libraries (`embedder`'s model code, `training`, `serving`): its modules
import them, and nothing in them imports the command line (a test enforces the direction). Each module here has
``register(subparsers)``, which adds its parser and sets ``handler``; it must not import TensorFlow at module
level, so that ``embedder --help`` and the client commands stay fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


class CommandError(Exception):
    """A user error that the CLI reports as one line on stderr with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embedder", description="Train, export, serve and call attention-based sentence embedders."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    from embedder.cli import distill, embed, embed_corpus, info, pretrained, quickstart, search, serve, train

    # In the order `--help` lists them.
    for module in (info, pretrained, quickstart, train, distill, serve, embed, embed_corpus, search):
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
