"""Pure helpers for looking into notebooks: their code, their Markdown, what they import.

Each takes an nbformat notebook (a ``NotebookNode`` or the plain JSON dict) and never
raises on odd content. Packages come from the gallery's own extractor, so the client and
the server's search (``package:`` filters, ``info``'s ``packages``) agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..gallery.extract import cell_source, extract, python_packages


def _sources(nb: Mapping[str, Any], cell_type: str) -> list[str]:
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return []
    return [
        cell_source(cell)
        for cell in cells
        if isinstance(cell, dict) and cell.get("cell_type") == cell_type
    ]


def code_sources(nb: Mapping[str, Any]) -> list[str]:
    """The source of every code cell, in order."""
    return _sources(nb, "code")


def markdown_sources(nb: Mapping[str, Any]) -> list[str]:
    """The source of every Markdown cell, in order."""
    return _sources(nb, "markdown")


def packages(nb: Mapping[str, Any]) -> list[str]:
    """The top-level packages the notebook imports or installs (``import a.b`` → ``a``),
    sorted."""
    return sorted(python_packages(code_sources(nb)))


def text(nb: Mapping[str, Any]) -> str:
    """Markdown and code of the notebook as one text (for similarity, search, TF-IDF)."""
    return "\n\n".join(markdown_sources(nb) + code_sources(nb))


def title(nb: Mapping[str, Any], path: str = "") -> str:
    """The notebook's title as the gallery gives it: its first Markdown heading, else the
    file name of ``path``."""
    return extract(dict(nb), path or "notebook.ipynb").title
