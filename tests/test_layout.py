"""The layout's one direction of imports: the command line above the three libraries, the client below them all.

    embedder/cli/  ->  training/, serving/, embedder/ (the model code)
    training/      ->  embedder/ (the model code)
    serving/       ->  embedder/ (the contract, the model code where it serves)
    serving/client/  ->  grpc, protobuf, numpy, embedder.contract, embedder.validation
                         (tests/serving/client/test_client.py)

`embedder.contract` and `embedder.validation` sit below everything: the standard library only (and numpy, which
the client has anyway, for the contract's `l2_normalize`).

Imports inside functions count too: they are how a module defers an import, not how it escapes the rule.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update({node.module, *(f"{node.module}.{alias.name}" for alias in node.names)})
    return names


def modules_under(folder: str, exclude: tuple[str, ...] = ()) -> list[Path]:
    paths = sorted((ROOT / folder).rglob("*.py"))
    return [p for p in paths if not any(p.is_relative_to(ROOT / e) for e in exclude)]


def touches(names: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == r or n.startswith(r + ".") for r in roots))


@pytest.mark.parametrize(
    "folder, exclude, forbidden",
    [
        # `python -m embedder` (__main__.py) is the command line too.
        ("embedder", ("embedder/cli", "embedder/__main__.py"), ("training", "serving", "embedder.cli")),
        ("training", (), ("serving", "embedder.cli")),
        ("serving", (), ("training", "embedder.cli")),
    ],
)
def test_imports_go_one_way(folder, exclude, forbidden):
    paths = modules_under(folder, exclude)
    assert len(paths) > 5
    offenders = {str(p.relative_to(ROOT)): touches(imported_modules(p), forbidden) for p in paths}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_subcommand_lives_in_the_cli_folder():
    from embedder.cli import build_parser

    def handlers(parser, prefix=""):
        found = {}
        for action in parser._actions:  # noqa: SLF001
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                for name, sub in action.choices.items():
                    handler = sub.get_default("handler")
                    if handler is not None:
                        found[prefix + name] = handler.__module__
                    found.update(handlers(sub, f"{prefix}{name} "))
        return found

    homes = handlers(build_parser())
    assert {"train", "serve", "embed", "quickstart", "distill", "search", "pretrained list"} <= set(homes)
    assert {name: home for name, home in homes.items() if not home.startswith("embedder.cli.")} == {}


def test_the_rule_sees_imports_inside_functions(tmp_path):
    path = tmp_path / "module.py"
    path.write_text("def f():\n    from training.train import train\n    import serving.server\n")
    found = touches(imported_modules(path), ("training", "serving"))
    assert found == ["serving.server", "training.train", "training.train.train"]


@pytest.mark.parametrize("module, allowed", [("embedder/contract.py", {"numpy"}), ("embedder/validation.py", set())])
def test_the_modules_below_everything_use_the_standard_library_only(module, allowed):
    import sys

    roots = {n.split(".")[0] for n in imported_modules(ROOT / module)}
    assert sorted(roots - set(sys.stdlib_module_names) - {"__future__"} - allowed) == []
