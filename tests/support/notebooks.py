"""Notebook files for tests: write one into a server's root, read one back."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

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


def notebook_json(*cells: tuple[str, str]) -> dict[str, Any]:
    """A Python notebook as JSON, one cell per ``(kind, source)`` ("md" or "code"), with
    ids ``c0``, ``c1``, …"""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(cells):
        new = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(new(source, id=f"c{i}"))
    return dict(json.loads(nbformat.writes(nb)))
