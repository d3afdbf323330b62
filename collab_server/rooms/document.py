"""Between a file on disk and its CRDT document.

This module owns three things:

* the document kinds a room can hold (``json:notebook`` and ``text:file``) and their
  jupyter_ydoc layout (YNotebook 2.0.0 / YUnicode) — we never invent a parallel layout;
* the **deterministic first load**: the same file content always produces the same CRDT
  items (same client id, same clocks), so a client that loaded the same file before can
  never merge in a second copy of its cells;
* the **three-way merge** of a change made to the file outside the server (an editor,
  ``git pull``) into a live document, cell by cell, so edits made in the room since the last
  save are kept wherever the outside change did not touch them.

Offsets: pycrdt ``Text`` indices are UTF-8 byte offsets; every helper here that edits text
takes Python strings and converts, so no caller handles byte offsets.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from jupyter_ydoc import YNotebook, YUnicode
from jupyter_ydoc.ybasedoc import YBaseDoc
from pycrdt import Array, Doc, Map, Text


@dataclass(frozen=True)
class DocumentKind:
    """What a room's ``{format}:{type}`` names."""

    format: str  # "json" or "text": the contents API format
    type: str  # "notebook" or "file": the contents API type

    @property
    def is_notebook(self) -> bool:
        return self.type == "notebook"


SUPPORTED_KINDS = {
    ("json", "notebook"): DocumentKind("json", "notebook"),
    ("text", "file"): DocumentKind("text", "file"),
}


def wrap(kind: DocumentKind, ydoc: Doc) -> YBaseDoc:
    """The jupyter_ydoc view of ``ydoc`` for this kind."""
    return YNotebook(ydoc) if kind.is_notebook else YUnicode(ydoc)


def normalize_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``nb`` in nbformat 4.5+ with a unique id on every cell.

    Missing ids are derived from the cell's position and source, so the result (and hence the
    first CRDT load) is a pure function of the file.
    """
    nb = copy.deepcopy(nb)
    if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) < 5:
        nb["nbformat_minor"] = 5
    if not nb.get("cells"):
        # jupyter_ydoc gives an empty notebook one blank cell with a random id; two first loads
        # would then hold the same items with different ids and never converge. Give it the
        # same blank cell with a derived id.
        nb["cells"] = [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {"trusted": True},
                "outputs": [],
                "source": "",
                "id": "cell-empty",
            }
        ]
    seen: set[str] = set()
    for index, cell in enumerate(nb.get("cells", [])):
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not cell_id or cell_id in seen:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            digest = hashlib.sha1(f"{index}:{source}".encode()).hexdigest()[:12]
            cell_id = f"cell-{digest}"
            while cell_id in seen:
                cell_id += "x"
            cell["id"] = cell_id
        seen.add(cell_id)
    return nb


def content_client_id(content: Any) -> int:
    """A CRDT client id derived from the content: same content, same id.

    Kept below 2**31 so that JavaScript clients (which use 32-bit ids) handle it as they handle
    their own. A different content gives a different id, so two different first loads never
    produce items with the same (client, clock) pair.
    """
    digest = hashlib.sha256(repr(content).encode("utf-8")).digest()
    return (int.from_bytes(digest[:4], "big") & 0x7FFFFFFF) or 1


def deterministic_load(kind: DocumentKind, content: Any) -> bytes:
    """The CRDT update that builds a document for ``content`` from nothing, deterministically."""
    if kind.is_notebook:
        content = normalize_notebook(content)
    source: Doc = Doc(client_id=content_client_id(content))
    wrap(kind, source).set(content)
    return source.get_update()


def read_content(kind: DocumentKind, ydoc: Doc) -> Any:
    """The document's content as the contents API takes it (a notebook dict, or a string)."""
    return wrap(kind, ydoc).get()


# --- text edits -----------------------------------------------------------------------


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def replace_text(ytext: Text, old: str, new: str) -> None:
    """Turn ``ytext`` (whose value is ``old``) into ``new`` by editing only what differs.

    Editing the smallest changed span keeps concurrent edits and cursors elsewhere in the text.
    """
    if old == new:
        return
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    start = _utf8_len(old[:prefix])
    removed = old[prefix : len(old) - suffix]
    inserted = new[prefix : len(new) - suffix]
    if removed:
        del ytext[start : start + _utf8_len(removed)]
    if inserted:
        ytext.insert(start, inserted)


# --- three-way merge of outside changes ------------------------------------------------


@dataclass
class MergeReport:
    """What a merge changed, for the log line."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    conflicts: int = 0
    metadata: bool = False

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.metadata)


def merge_external_change(kind: DocumentKind, ydoc: Doc, base: Any, disk: Any) -> MergeReport:
    """Apply the change ``base → disk`` (made outside the server) to the live document.

    ``base`` is the content the server last saved or loaded. For notebooks the change is
    applied as cell-level edits: cells added or removed on disk are added or removed in the
    room, and each field of a cell that changed on disk is set in the room; cells the outside
    change did not touch keep whatever collaborators typed since the last save. When a cell's
    source changed both on disk and in the room, the disk version wins for that cell and the
    report counts a conflict. Text files take the disk text, edited in place.
    """
    report = MergeReport()
    if not kind.is_notebook:
        ytext = ydoc.get("source", type=Text)
        current = str(ytext)
        if current != disk:
            with ydoc.transaction():
                replace_text(ytext, current, disk)
            report.changed = 1
            report.conflicts = int(current != base)
        return report

    base = normalize_notebook(base) if base is not None else {"cells": [], "metadata": {}}
    disk = normalize_notebook(disk)
    base_cells = {c["id"]: c for c in base.get("cells", [])}
    disk_cells = {c["id"]: c for c in disk.get("cells", [])}
    # Made before the transaction: building a YNotebook inside one panics in pycrdt.
    notebook = YNotebook(ydoc)
    ymeta = ydoc.get("meta", type=Map)
    ycells = ydoc.get("cells", type=Array)
    with ydoc.transaction():
        if disk.get("metadata", {}) != base.get("metadata", {}):
            ymeta["metadata"] = Map(copy.deepcopy(disk.get("metadata", {})))
            report.metadata = True
        for key in ("nbformat", "nbformat_minor"):
            if key in disk and disk[key] != base.get(key):
                ymeta[key] = disk[key]

        # Removed on disk.
        for index in reversed(range(len(ycells))):
            cell_id = ycells[index].get("id")
            if cell_id in base_cells and cell_id not in disk_cells:
                del ycells[index]
                report.removed += 1

        # Changed on disk.
        for index in range(len(ycells)):
            ycell = ycells[index]
            cell_id = ycell.get("id")
            if cell_id not in base_cells or cell_id not in disk_cells:
                continue
            before, after = base_cells[cell_id], disk_cells[cell_id]
            if before == after:
                continue
            report.changed += 1
            report.conflicts += _merge_cell(notebook, ycell, before, after)

        # Added on disk: after the nearest preceding disk cell that the room has.
        present = [ycells[i].get("id") for i in range(len(ycells))]
        previous_id: str | None = None
        for cell in disk.get("cells", []):
            cell_id = cell["id"]
            if cell_id not in base_cells and cell_id not in present:
                position = present.index(previous_id) + 1 if previous_id in present else 0
                ycells.insert(position, notebook.create_ycell(cell))
                present.insert(position, cell_id)
                report.added += 1
            if cell_id in present:
                previous_id = cell_id
    return report


def _merge_cell(
    notebook: YNotebook, ycell: Map, before: dict[str, Any], after: dict[str, Any]
) -> int:
    """Apply one cell's outside change; returns 1 if the room had also edited its source."""
    conflict = 0
    for key in set(before) | set(after):
        old_value, new_value = before.get(key), after.get(key)
        if old_value == new_value or key == "id":
            continue
        if key == "source":
            ytext = ycell.get("source")
            new_source = "".join(new_value) if isinstance(new_value, list) else (new_value or "")
            if isinstance(ytext, Text):
                current = str(ytext)
                base_source = "".join(old_value) if isinstance(old_value, list) else old_value
                conflict = int(current != (base_source or ""))
                replace_text(ytext, current, new_source)
            else:
                ycell["source"] = Text(new_source)
        elif key not in after:
            if key in ycell:
                del ycell[key]
        elif key == "metadata":
            ycell["metadata"] = Map(copy.deepcopy(new_value))
        elif key == "outputs":
            # jupyter_ydoc's own conversion, so stream outputs get their Text as JupyterLab expects.
            notebook._set_ycell_outputs(ycell, new_value or [])
        else:
            ycell[key] = copy.deepcopy(new_value)
    return conflict
