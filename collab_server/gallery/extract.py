"""What the gallery knows about one notebook, read from its nbformat JSON.

This module owns turning a notebook (the nbformat dict as saved) into the facts the search
index stores: title, description, Markdown text (the words a reader sees, without Markdown's
marks), code text, language and imported packages.
It is pure: no database, no I/O, and it never raises on odd content (a notebook that does not
parse as Python, cells with lists for sources, missing metadata), because one strange notebook
must not stop the index.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field
from posixpath import basename, splitext
from typing import Any

# The snippet markers the index asks SQLite for (see index.py); stripped from indexed text so
# a notebook cannot forge a highlight.
MARKER_CHARS = "\x01\x02"
_MARKER_TABLE = str.maketrans(dict.fromkeys(MARKER_CHARS, " "))

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
# `!pip install x`, `%pip install -U x y`, `!conda install x`, `%conda install x`.
_INSTALL = re.compile(r"^\s*[!%]{1,2}\s*(?:pip3?|conda|mamba|python\s+-m\s+pip)\s+install\s+(.*)$")
# A line IPython would treat as a magic or shell escape, or help (`x?`).
_IPYTHON_LINE = re.compile(r"^\s*([!%]|\?)|\?\s*$")
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
# Options of `pip install` that take a value: the value is not a package.
_PIP_OPTIONS_WITH_VALUE = {"-r", "-c", "-e", "-i", "-f", "--index-url", "--extra-index-url",
                           "--requirement", "--constraint", "--find-links", "--target", "-t",
                           "--prefix", "--editable", "--channel"}  # fmt: skip
# What is indexed of a notebook. Bump it when that changes (2: Markdown as its reader sees
# it): the next scan indexes every notebook again, not only those changed since.
TEXT_VERSION = 2
_MAX_TEXT = 200_000  # characters of Markdown or code kept per notebook (index size bound)


@dataclass(frozen=True)
class NotebookFacts:
    """The searchable content of one notebook."""

    title: str
    title_from_name: bool  # True when no heading: the title follows renames
    description: str
    markdown: str
    code: str
    language: str
    packages: tuple[str, ...] = field(default=())
    code_cells: tuple[tuple[str, str], ...] = field(default=())  # (cell id, source hash)
    code_hash: str = ""  # changes whenever any code cell's source changes


def title_from_path(path: str) -> str:
    """The file name without its extension: the title of a notebook with no heading."""
    name = splitext(basename(path.rstrip("/")))[0]
    return name or path


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat allows a list of lines)."""
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def source_hash(source: str) -> str:
    """A short stable hash of a cell's source: executions of other code do not count."""
    return hashlib.sha256(source.encode("utf-8", "replace")).hexdigest()[:16]


def _clean(text: str) -> str:
    return text.translate(_MARKER_TABLE)


def _strip_inline_markdown(text: str) -> str:
    """Headings and descriptions are shown as plain text: drop links, emphasis, code ticks."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*_`]{1,3}", "", text)
    text = re.sub(r"<[^>]{1,200}>", "", text)
    return " ".join(text.split())


_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_BLOCK_MARK = re.compile(r"^\s{0,3}(?:>\s?)*(?:#{1,6}(?=\s|$)|\s*[-*+](?=\s))?")
_TRAILING_HASHES = re.compile(r"\s+#+\s*$")
_RULE = re.compile(r"^\s{0,3}(?:(?:[-*_]\s*){3,}|=+)\s*$")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_STARS = re.compile(r"(\*{1,3})(?=\S)(.+?)(?<=\S)\1")
# Underscores only around words: snake_case names keep theirs.
_UNDERSCORES = re.compile(r"(?<![\w_])(_{1,3})(?=\S)(.+?)(?<=\S)\1(?![\w_])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def markdown_text(source: str) -> str:
    """A Markdown cell as the words a reader sees, for the index (snippets show it): no
    heading marks, emphasis, code ticks, fences or link syntax (a link becomes its text, an
    image its alt text). Every word stays, so search finds what it found before."""
    lines: list[str] = []
    for line in source.splitlines():
        if _FENCE.match(line) or _RULE.match(line):
            continue
        if line.lstrip().startswith("#"):
            line = _TRAILING_HASHES.sub("", line)
        line = _BLOCK_MARK.sub("", line, count=1)
        line = _IMAGE.sub(r"\1", line)
        line = _LINK.sub(r"\1", line)
        line = _CODE_SPAN.sub(lambda m: m.group(2).strip(), line)
        line = _STARS.sub(r"\2", line)
        line = _UNDERSCORES.sub(r"\2", line)
        lines.append(line.strip())
    return "\n".join(lines).strip()


def _title_and_description(markdown_cells: list[str]) -> tuple[str | None, str]:
    """The first heading and the first paragraph after it (or the first paragraph at all)."""
    title: str | None = None
    paragraphs: list[str] = []
    for text in markdown_cells:
        lines = text.splitlines()
        current: list[str] = []
        for i, line in enumerate(lines):
            heading = _HEADING.match(line)
            setext = (
                i + 1 < len(lines) and _SETEXT.match(lines[i + 1]) and line.strip() and not current
            )
            if heading or setext:
                if current:
                    paragraphs.append(" ".join(current))
                    current = []
                if title is None:
                    title = _strip_inline_markdown(heading.group(2) if heading else line)
                    paragraphs.clear()  # the description is what follows the title
                continue
            if _SETEXT.match(line) and i > 0 and title is not None and not current:
                continue  # the underline of a setext heading
            if line.strip():
                current.append(line.strip())
            elif current:
                paragraphs.append(" ".join(current))
                current = []
        if current:
            paragraphs.append(" ".join(current))
        if title is not None and paragraphs:
            break
    description = _strip_inline_markdown(paragraphs[0]) if paragraphs else ""
    return title, description


def _python_for_ast(code: str) -> str:
    """Blank out IPython-only lines (magics, shell escapes, help) so the rest still parses."""
    out = []
    in_cell_magic = False
    for number, line in enumerate(code.splitlines()):
        if number == 0 and line.lstrip().startswith("%%"):
            in_cell_magic = True  # the whole cell is for another interpreter (%%bash, %%sql)
        if in_cell_magic or _IPYTHON_LINE.search(line):
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def _imports_from_ast(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


_LINE_IMPORT = re.compile(r"^\s*import\s+([\w.]+(?:\s*,\s*[\w.]+)*)")
_LINE_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+import\b")


def _imports_line_by_line(code: str) -> set[str]:
    """For code that does not parse: take import statements one line at a time."""
    found: set[str] = set()
    for line in code.splitlines():
        match = _LINE_IMPORT.match(line)
        if match:
            for name in match.group(1).split(","):
                found.add(name.strip().split(".")[0])
            continue
        match = _LINE_FROM.match(line)
        if match and not match.group(1).startswith("."):
            found.add(match.group(1).split(".")[0])
    return found


def _installed_packages(code: str) -> set[str]:
    found: set[str] = set()
    for line in code.splitlines():
        match = _INSTALL.match(line)
        if not match:
            continue
        words = match.group(1).split()
        skip_next = False
        for word in words:
            if skip_next:
                skip_next = False
                continue
            if word.startswith("-"):
                skip_next = word in _PIP_OPTIONS_WITH_VALUE
                continue
            if word.startswith(("#",)):
                break
            name = _PACKAGE_NAME.match(word.strip("'\""))
            if name and not word.startswith(("http:", "https:", "git+", ".", "/")):
                found.add(name.group(0).rstrip(".").lower().replace("_", "-"))
    return found


def python_packages(code_cells: list[str]) -> set[str]:
    """Top-level packages a notebook imports or installs (``import a.b`` → ``a``)."""
    found: set[str] = set()
    for code in code_cells:
        found |= _installed_packages(code)
        prepared = _python_for_ast(code)
        try:
            tree = ast.parse(prepared)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            found |= _imports_line_by_line(prepared)
        else:
            found |= _imports_from_ast(tree)
    found.discard("")
    found.discard("__future__")
    return found


def notebook_language(nb: dict[str, Any]) -> str:
    """The kernel's language in lower case (``python``, ``r``, ``julia``), or ``""``."""
    metadata = nb.get("metadata")
    if not isinstance(metadata, dict):
        return ""
    for key in ("language_info", "kernelspec"):
        section = metadata.get(key)
        if isinstance(section, dict):
            name = section.get("language") if key == "kernelspec" else section.get("name")
            if isinstance(name, str) and name.strip():
                return name.strip().lower()
    return ""


def extract(nb: dict[str, Any], path: str) -> NotebookFacts:
    """Everything the gallery indexes about the notebook ``nb`` stored at ``path``."""
    cells = nb.get("cells")
    if not isinstance(cells, list):
        cells = []
    markdown_cells: list[str] = []
    code_sources: list[str] = []
    code_cells: list[tuple[str, str]] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        source = _clean(cell_source(cell))
        if cell.get("cell_type") == "markdown":
            markdown_cells.append(source)
        elif cell.get("cell_type") == "code":
            code_sources.append(source)
            cell_id = cell.get("id")
            code_cells.append(
                (cell_id if isinstance(cell_id, str) else f"#{index}", source_hash(source))
            )
    heading, description = _title_and_description(markdown_cells)
    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    collab = metadata.get("collab") if isinstance(metadata, dict) else None
    if isinstance(collab, dict) and isinstance(collab.get("description"), str):
        # An explicit description (set in the page) wins over the guessed paragraph.
        description = " ".join(_clean(collab["description"]).split())
    language = notebook_language(nb)
    packages: set[str] = set()
    if language in ("", "python", "python3"):
        packages = python_packages(code_sources)
    code_hash = hashlib.sha256("\0".join(h for _, h in code_cells).encode()).hexdigest()[:16]
    return NotebookFacts(
        title=heading or title_from_path(path),
        title_from_name=heading is None,
        description=description[:2000],
        markdown="\n\n".join(markdown_text(m) for m in markdown_cells)[:_MAX_TEXT],
        code="\n\n".join(code_sources)[:_MAX_TEXT],
        language=language,
        packages=tuple(sorted(packages)),
        code_cells=tuple(code_cells),
        code_hash=code_hash,
    )
