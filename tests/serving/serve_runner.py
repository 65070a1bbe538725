"""Run by the serve-command tests in a fresh interpreter: `embedder serve` with Keras and training code blocked.

Usage: python serve_runner.py [serve flags...]. After ``import tensorflow`` (which imports parts of Keras for
itself), any *further* import of keras, tf_keras, training code or a TensorFlow-backed ``embedder`` module
raises, so a server that answers requests here is proven to need only TensorFlow and the contract's names.
"""

import argparse
import sys

import tensorflow  # noqa: F401 - imported before the blocker on purpose

ALLOWED_EMBEDDER = {
    "embedder",
    "embedder.contract",
    "embedder.validation",
    "embedder.versions",
    "embedder.cli",
    "embedder.cli.serve",
}


class _BlockImports:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        blocked = top in ("keras", "tf_keras", "training") or (top == "embedder" and name not in ALLOWED_EMBEDDER)
        if blocked and name not in sys.modules:
            raise ImportError(f"{name} must not be imported by the model server")
        return None


def main() -> int:
    sys.meta_path.insert(0, _BlockImports())
    from embedder.cli import serve as server_cli

    parser = argparse.ArgumentParser(prog="embedder")
    server_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", *sys.argv[1:]])
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    code = server_cli.run_serve(args)
    project = sorted(m for m in sys.modules if m.split(".")[0] in ("embedder", "serving", "training"))
    print("project modules:", " ".join(project), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
