"""Paths of the project tree, for tests that run scripts or read files by path."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
