"""Reading and writing code cells of a shared notebook document (jupyter_ydoc's layout).

This module owns how the kernels' changes land in a YNotebook document: ``cells`` is an
Array of Maps; a code cell has ``source`` (Text), ``execution_count``, ``execution_state``
(``"idle"`` or ``"running"``, as jupyter_ydoc and ``@jupyter/ydoc`` define it) and
``outputs``, an Array of output Maps in which a stream's ``text`` is a Text (what
jupyter_ydoc writes and ``@jupyter/ydoc`` reads). Stream text is appended in place; an output
Map is never replaced, only its fields set.

Each function runs inside the caller's transaction. Text positions are UTF-8 byte offsets
(pycrdt's), taken from the :mod:`.outputs` changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pycrdt import Array, Doc, Map, Text

from .outputs import AppendOutput, ClearOutputs, OutputChange, SetOutputFields, SpliceText

logger = logging.getLogger(__name__)


def find_cell(doc: Doc, cell_id: str) -> Map | None:
    cells = doc.get("cells", type=Array)
    for cell in cells:
        if isinstance(cell, Map) and cell.get("id") == cell_id:
            return cell
    return None


def code_sources(doc: Doc) -> dict[str, str]:
    """Cell id → source of every code cell."""
    sources: dict[str, str] = {}
    for cell in doc.get("cells", type=Array):
        if isinstance(cell, Map) and cell.get("cell_type") == "code":
            cell_id = cell.get("id")
            if isinstance(cell_id, str):
                sources[cell_id] = str(cell.get("source", ""))
    return sources


def code_index(doc: Doc, cell_id: str) -> int | None:
    """The position of a code cell among the notebook's code cells (None if not there)."""
    index = 0
    for cell in doc.get("cells", type=Array):
        if isinstance(cell, Map) and cell.get("cell_type") == "code":
            if cell.get("id") == cell_id:
                return index
            index += 1
    return None


def code_source(doc: Doc, cell_id: str) -> str | None:
    cell = find_cell(doc, cell_id)
    if cell is None or cell.get("cell_type") != "code":
        return None
    return str(cell.get("source", ""))


def _youtput(output: dict[str, Any]) -> Map:
    output = dict(output)
    if output.get("output_type") == "stream":
        output["text"] = Text(str(output.get("text", "")))
    return Map(output)


def apply_output_changes(cell: Map, changes: Sequence[OutputChange]) -> bool:
    """Apply :mod:`.outputs` changes to the cell's ``outputs``. Returns ``False`` when the
    outputs no longer match what the changes expect (someone cleared them): the rest is
    skipped rather than written in the wrong place."""
    outputs = cell.get("outputs")
    if not isinstance(outputs, Array):
        outputs = Array()
        cell["outputs"] = outputs
    for change in changes:
        if isinstance(change, ClearOutputs):
            if len(outputs):
                outputs.clear()
        elif isinstance(change, AppendOutput):
            outputs.append(_youtput(change.output))
        elif isinstance(change, SpliceText):
            if change.index >= len(outputs):
                return False
            target = outputs[change.index]
            text = target.get("text") if isinstance(target, Map) else None
            if not isinstance(text, Text):
                return False
            if change.delete_utf8:
                del text[change.start_utf8 : change.start_utf8 + change.delete_utf8]
            if change.insert:
                text.insert(change.start_utf8, change.insert)
        elif isinstance(change, SetOutputFields):
            if change.index >= len(outputs):
                return False
            target = outputs[change.index]
            if not isinstance(target, Map):
                return False
            for key, value in change.fields.items():
                target[key] = value
    return True


def set_execution_count(cell: Map, count: int | None) -> None:
    if cell.get("execution_count") != count:
        cell["execution_count"] = count


def set_execution_state(cell: Map, state: str) -> None:
    if cell.get("cell_type") == "code" and cell.get("execution_state") != state:
        cell["execution_state"] = state


def reset_running(doc: Doc) -> int:
    """Every code cell marked ``running`` goes back to ``idle`` (its kernel is gone)."""
    reset = 0
    for cell in doc.get("cells", type=Array):
        if isinstance(cell, Map) and cell.get("execution_state") == "running":
            cell["execution_state"] = "idle"
            reset += 1
    return reset


def stream_text(cell: Map) -> str:
    """The cell's stream outputs' text as the document holds it (stdout and stderr, in
    output order)."""
    outputs = cell.get("outputs")
    if not isinstance(outputs, Array):
        return ""
    parts = []
    for output in outputs:
        if isinstance(output, Map) and output.get("output_type") == "stream":
            parts.append(str(output.get("text", "")))
        elif isinstance(output, dict) and output.get("output_type") == "stream":
            text = output.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
    return "".join(parts)
