"""Shared test helpers: data builders, tiny models and paths that test modules (and a few bench scripts) import.

Fixtures live in the conftest.py files; what a test module imports by name lives here, so that no module imports a
conftest (pytest loads those itself, by a name that depends on its import mode; a bench script importing one also
pulled in pytest and the fixtures). Nothing here imports TensorFlow or Keras at module level: the client's own
venv (no TensorFlow) loads tests/conftest.py, which imports tests.helpers.models.

- `paths`: PROJECT_ROOT.
- `models`: the tiny texts, encoders and `make_tiny_embedder`; `run_in_tensorflow_only_process`.
- `keyword_task`: the synthetic keyword task (sentences, TSV files, encoders, training settings).
- `corpus`: generated corpus files for `embed-corpus`; `corpus_outputs`: its outputs written directly.
- `bench_data`: a generated stand-in for the shared data tree the bench scripts read, and a stand-in model.
"""
