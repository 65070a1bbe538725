"""Shared test helpers: data builders, tiny models and paths that test modules (and a few bench scripts) import.

Fixtures live in the conftest.py files; what a test module imports by name lives here, so that no module imports a
conftest (pytest loads those itself, and importing one by name can load it twice under two module names).
Nothing here imports TensorFlow or Keras at module level: the client's own venv (no TensorFlow) imports them too.
"""
