"""Notebook files for tests: write one into a server's root, read one back."""

from __future__ import annotations

import itertools
from pathlib import Path

import nbformat

_names = itertools.count()


def write_notebook(root: Path, sources: list[str], name: str | None = None) -> str:
    """Write a notebook with one code cell per source; returns its API path."""
    name = name or f"nb{next(_names)}.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return name


def read_notebook(root: Path, path: str) -> nbformat.NotebookNode:
    return nbformat.read(root / path, as_version=4)
