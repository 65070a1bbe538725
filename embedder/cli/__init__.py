"""The `embedder` command: one entry point, one subcommand per verb, every one of them in this folder.

The command line sits above the three libraries (`embedder`'s model code, `training`, `serving`): its modules
import them, and nothing in them imports the command line (a test enforces the direction). Each module here has
``register(subparsers)``, which adds its parser and sets ``handler``; it must not import TensorFlow at module
level, so that ``embedder --help`` and the client commands stay fast.

Flags take their defaults from the settings dataclasses they fill (`default_of`) and their ``choices=`` from the
libraries' constants, so that the command line cannot drift from the Python API (tests/embedder/cli checks it).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import os
import sys
from typing import Any


class CommandError(Exception):
    """A user error that the CLI reports as one line on stderr with exit status 2."""


def default_of(source: Any, name: str) -> Any:
    """The default of `name` in `source`, a dataclass (its field) or a function (its parameter): what a flag falls
    back to and its help shows, e.g. ``default_of(DistillConfig, "epochs")``.

    Raises:
        ValueError: `source` has no such field or parameter, or it has no default (a required setting).
    """
    if dataclasses.is_dataclass(source):
        found = {f.name: f for f in dataclasses.fields(source)}.get(name)
        if found is not None and found.default is not dataclasses.MISSING:
            return found.default
        if found is not None and found.default_factory is not dataclasses.MISSING:
            return found.default_factory()
    else:
        found = inspect.signature(source).parameters.get(name)
        if found is not None and found.default is not inspect.Parameter.empty:
            return found.default
    if found is None:
        raise ValueError(f"{source.__name__} has no setting {name!r}.")
    raise ValueError(f"{source.__name__}: {name} has no default (it is a required setting).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embedder", description="Train, export, serve and call attention-based sentence embedders."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    from embedder.cli import distill, embed, embed_corpus, export, info, pretrained, quickstart, search, serve, train

    # In the order `--help` lists them.
    for module in (info, pretrained, export, quickstart, train, distill, serve, embed, embed_corpus, search):
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
