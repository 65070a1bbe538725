"""The search package stays on the serving side: numpy, FAISS, pyarrow, the corpus readers and the
standard-library argument checks; no TensorFlow."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SEARCH_MODULES = tuple(
    f"serving.search.{path.stem}" if path.stem != "__init__" else "serving.search"
    for path in sorted(Path(importlib.util.find_spec("serving.search").origin).parent.glob("*.py"))
)
ALLOWED = (
    "numpy",
    "faiss",
    "pyarrow",
    "embedder.validation",  # standard library only (tests/test_layout.py)
    "serving.search",
    "serving.durable",
    "serving.corpus.manifest",
    "serving.corpus.model_info",
    "serving.corpus.npy_writer",
    "serving.corpus.progress",
)


def imported_names(module: str) -> set[str]:
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text("utf-8"))
    names = set()
    for node in ast.walk(tree):  # imports inside functions count too
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def allowed(name: str) -> bool:
    if name.split(".")[0] in sys.stdlib_module_names or name.startswith("__future__"):
        return True
    return any(name == root or name.startswith(root + ".") for root in ALLOWED)


@pytest.mark.parametrize("module", SEARCH_MODULES)
def test_search_modules_import_no_training_and_no_tensorflow(module):
    assert len(SEARCH_MODULES) >= 8
    forbidden = sorted(name for name in imported_names(module) if not allowed(name))
    assert not forbidden, f"{module} imports {forbidden}"


def test_building_and_searching_load_no_tensorflow():
    script = """
import json, sys, tempfile
import numpy as np
from serving.search import IndexBuildConfig, build_index, open_index
from tests.helpers.corpus_outputs import clustered_vectors, write_corpus_output
from pathlib import Path
tmp = Path(tempfile.mkdtemp())
write_corpus_output(tmp / "v", clustered_vectors(50))
build_index(IndexBuildConfig(str(tmp / "v"), str(tmp / "i"), "hnsw", "binary"))
open_index(tmp / "i").search(clustered_vectors(2, seed=1), 3)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "training"))))
"""
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []
