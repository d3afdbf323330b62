"""What a run reads of a notebook (pure, no I/O).

* the *setup* cells — the code cells above the ``parameters`` cell, which a warm kernel runs
  before anyone asks for a run (they must not depend on who runs or with what);
* progress — which code cell of how many is running;
* the *result* — the output of the cell tagged ``result``: its ``application/json`` output,
  else its text (``text/plain`` of a result or display, else its printed stream);
* the report — the executed notebook as HTML without code (nbconvert's exporter with
  ``exclude_input``), as Voila shows a notebook to people who do not read code; an error
  shows as one plain line with its message (no traceback: it quotes the code).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .schema import PARAMETERS_TAG, RESULT_TAG, tagged_index, tags_of


def is_code(cell: dict[str, Any]) -> bool:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    return cell.get("cell_type") == "code" and bool(text.strip())


def setup_count(nb: dict[str, Any]) -> int:
    """How many leading cells are setup (the cells above ``parameters``; 0 without one)."""
    index = tagged_index(nb, PARAMETERS_TAG)
    return max(index, 0)


def code_cells(nb: dict[str, Any], start: int = 0) -> list[int]:
    """Indexes of the code cells (with code) from ``start`` on."""
    return [i for i, cell in enumerate(nb.get("cells") or []) if i >= start and is_code(cell)]


def progress(nb: dict[str, Any], index: int) -> dict[str, int]:
    """``{"cell", "of"}``: the cell at ``index`` is the ``cell``-th of ``of`` code cells."""
    return progress_of(code_cells(nb))(index)


def progress_of(indexes: list[int]) -> Callable[[int], dict[str, int]]:
    """:func:`progress` for a notebook whose code cells are ``indexes``, the positions worked
    out once (a run reports one per cell)."""
    positions = {index: n for n, index in enumerate(indexes, start=1)}
    total = len(indexes)

    def at(index: int) -> dict[str, int]:
        found = positions.get(index)
        if found is None:  # not a code cell: the code cells before it
            found = sum(1 for i in indexes if i <= index)
        return {"cell": found, "of": total}

    return at


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def result_of(nb: dict[str, Any]) -> Any:
    """The result of a run: the ``result`` cell's JSON output, else its text, else None."""
    index = tagged_index(nb, RESULT_TAG)
    if index < 0:
        return None
    outputs = nb["cells"][index].get("outputs") or []
    text: str | None = None
    streams: list[str] = []
    for output in outputs:
        kind = output.get("output_type")
        data = output.get("data") or {}
        if kind in ("execute_result", "display_data"):
            if "application/json" in data:
                value = data["application/json"]
                # nbformat keeps JSON outputs parsed; some writers leave them as text.
                if isinstance(value, str):
                    try:
                        return json.loads(value)
                    except ValueError:
                        return value
                return value
            if text is None and "text/plain" in data:
                text = _text(data["text/plain"])
        elif kind == "stream" and output.get("name") == "stdout":
            streams.append(_text(output.get("text", "")))
    if text is not None:
        return text
    return "".join(streams) if streams else None


def error_of(cell: dict[str, Any]) -> dict[str, str] | None:
    """``{"ename", "evalue"}`` of the cell's error output, if it has one."""
    for output in cell.get("outputs") or []:
        if output.get("output_type") == "error":
            return {"ename": str(output.get("ename", "")), "evalue": str(output.get("evalue", ""))}
    return None


# Terminal colour codes, which IPython puts in tracebacks and sometimes in an error's value.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error_line(ename: str, evalue: str) -> str:
    """An error as its reader sees it: the message, not the exception's class or code."""
    message = _ANSI.sub("", evalue).strip()
    if ename == "KeyboardInterrupt":
        return "The app was interrupted."
    if not message:
        return "The app stopped because of an error."
    return f"The app stopped: {message}"


def preload_report() -> None:
    """Import nbconvert and render a tiny report once (seconds on a busy machine), so the
    first person to open a report does not wait for it."""
    report_html({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}, "")


def report_html(nb: dict[str, Any], title: str) -> str:
    """The executed notebook as a standalone HTML page without code or prompts."""
    import nbformat
    from nbconvert import HTMLExporter

    # No third-party script in a report: nbconvert's page loads require.js, MathJax, mermaid
    # and the widget renderer from CDNs by default, which would tell those sites who reads
    # what, and make the report wait for (or hang on) networks it cannot reach.
    offline = dict.fromkeys(
        ("require_js_url", "mathjax_url", "jquery_url", "widget_renderer_url", "mermaid_js_url",
         "mermaid_layout_elk_js_url"),
        "",
    )  # fmt: skip
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True, **offline
    )
    # Read as a file is (multi-line sources joined), as nbconvert expects.
    node = nbformat.reads(json.dumps(nb), as_version=4)
    # The injected parameters are code too: a report shows their effect, not the cell.
    node.cells = [c for c in node.cells if "injected-parameters" not in tags_of(c)]
    for cell in node.cells:
        outputs = cell.get("outputs") or []
        for i, output in enumerate(outputs):
            if output.get("output_type") == "error":
                # A traceback quotes the notebook's code and means nothing to whoever runs
                # the app: the report says what went wrong in one line of text.
                line = error_line(str(output.get("ename", "")), str(output.get("evalue", "")))
                outputs[i] = nbformat.v4.new_output("stream", name="stderr", text=line + "\n")
                continue
            data = output.get("data") or {}
            if "application/json" in data and not data.get("text/html"):
                # nbconvert shows JSON by its text (IPython's is "<…JSON object>"): the
                # result is what a reader of the report wants to see.
                data["text/plain"] = json.dumps(data["application/json"], indent=2)
    body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": title}})
    return str(body)
