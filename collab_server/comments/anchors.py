"""Where a comment points in a notebook, and how it follows edits.

A text range follows its words through every change to its cell's source: the tracker
observes the notebook document and shifts each range by each edit's delta, as a CRDT sticky
position would — the start sticks to the character after it and the end to the one before
it, so text typed at either edge stays outside the range, text typed inside grows it, and
the range moves with its words when collaborators type before it, whoever typed and in
whatever order the edits arrived. When all its text is deleted the two ends meet (the range
is *detached*); when its cell is deleted the cell id is gone.

(Why not pycrdt's own ``StickyIndex``: in pycrdt 0.14 it takes UTF-16 offsets, answers in a
mix of UTF-16 and UTF-8 units once non-ASCII text is involved, and panics for a position
after the last character. Text event deltas are consistently in UTF-8 bytes.)

The live ranges belong to one document instance, so they live in memory. What is stored —
in the comments document and in the ``.ipynb`` — is code-point offsets plus the quoted text
and ~32 characters of context, from which :func:`locate` re-anchors: at the stored offsets if
the quote is still there, else at the one place the quote occurs (context breaking ties),
else nowhere. It never guesses by proximity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pycrdt import Array, Doc, Map, Text, TextEvent

CONTEXT = 32  # code points of prefix/suffix kept with a quote


def find_cell(doc: Doc, cell_id: str) -> Map | None:
    """The notebook document's cell with id ``cell_id``, or None."""
    cells = doc.get("cells", type=Array)
    for cell in cells:
        if isinstance(cell, Map) and cell.get("id") == cell_id:
            return cell
    return None


def cell_source(cell: Map) -> Text | None:
    source = cell.get("source")
    return source if isinstance(source, Text) else None


def cell_outputs(cell: Map) -> int:
    outputs = cell.get("outputs")
    return len(outputs) if isinstance(outputs, Array) else 0


def _byte_offset(text: str, code_points: int) -> int:
    return len(text[:code_points].encode("utf-8"))


def _code_points(text: str, byte_offset: int) -> int:
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def quote(text: str, start: int, end: int) -> dict[str, str]:
    """The quote of ``text[start:end]`` with its context."""
    return {
        "exact": text[start:end],
        "prefix": text[max(0, start - CONTEXT) : start],
        "suffix": text[end : end + CONTEXT],
    }


@dataclass
class _Range:
    cell_id: str
    start: int  # UTF-8 byte offsets into the cell's source
    end: int


class RangeTracker:
    """The live text ranges of one notebook document, shifted by every edit to it.

    Ranges are kept per cell, so an edit costs in proportion to the ranges of its own cell;
    the keys of ranges whose cell text changed are collected in :attr:`touched` until the
    comments service refreshes their offsets and quotes."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self._ranges: dict[str, _Range] = {}
        self._by_cell: dict[str, set[str]] = {}
        self.touched: set[str] = set()
        self._cells = doc.get("cells", type=Array)
        self._subscription = self._cells.observe_deep(self._on_change)

    def close(self) -> None:
        self._cells.unobserve(self._subscription)

    def add(self, key: str, cell_id: str, text: str, start: int, end: int) -> None:
        """Track code points ``start``..``end`` of ``text`` (the cell's current source)."""
        self.forget(key)
        self._ranges[key] = _Range(cell_id, _byte_offset(text, start), _byte_offset(text, end))
        self._by_cell.setdefault(cell_id, set()).add(key)

    def forget(self, key: str) -> None:
        tracked = self._ranges.pop(key, None)
        self.touched.discard(key)
        if tracked is not None:
            keys = self._by_cell.get(tracked.cell_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_cell[tracked.cell_id]

    def __contains__(self, key: str) -> bool:
        return key in self._ranges

    def resolve(self, key: str, cells: dict[str, Map] | None = None) -> tuple[int, int, str] | None:
        """Current (start, end, cell text) in code points, or None if the text or cell is gone.
        ``cells`` (cell id → cell) saves a walk over the cells for each range."""
        tracked = self._ranges.get(key)
        if tracked is None or tracked.end <= tracked.start:
            return None
        if cells is not None:
            cell = cells.get(tracked.cell_id)
        else:
            cell = find_cell(self.doc, tracked.cell_id)
        source = cell_source(cell) if cell is not None else None
        if source is None:
            return None
        text = str(source)
        if tracked.end > len(text.encode("utf-8")):
            return None
        return _code_points(text, tracked.start), _code_points(text, tracked.end), text

    def _on_change(self, events: list[Any]) -> None:
        for event in events:
            path: list[Any] = getattr(event, "path", [])  # set by pycrdt, untyped
            if not isinstance(event, TextEvent) or len(path) != 2:
                continue
            index, key = path
            if key != "source" or not isinstance(index, int):
                continue
            cell = self._cells[index]
            cell_id = cell.get("id") if isinstance(cell, Map) else None
            keys = self._by_cell.get(cell_id) if isinstance(cell_id, str) else None
            if keys:
                self.touched.update(keys)  # quotes and context may have changed
                _shift([self._ranges[k] for k in keys], getattr(event, "delta", []))


def cells_by_id(doc: Doc) -> dict[str, Map]:
    """Every cell of the notebook document by id (one walk over the cells)."""
    found: dict[str, Map] = {}
    for cell in doc.get("cells", type=Array):
        if isinstance(cell, Map):
            cell_id = cell.get("id")
            if isinstance(cell_id, str):
                found[cell_id] = cell
    return found


def _shift(ranges: list[_Range], delta: list[dict[str, Any]]) -> None:
    position = 0
    for op in delta:
        if "retain" in op:
            position += int(op["retain"])
        elif "insert" in op:
            inserted = op["insert"]
            size = len(inserted.encode("utf-8")) if isinstance(inserted, str) else 1
            for r in ranges:
                # At the start: the new text goes before the range; at the end: after it.
                if position <= r.start:
                    r.start += size
                if position < r.end:
                    r.end += size
            position += size
        elif "delete" in op:
            size = int(op["delete"])
            for r in ranges:
                r.start = _after_delete(r.start, position, size)
                r.end = _after_delete(r.end, position, size)


def _after_delete(offset: int, position: int, size: int) -> int:
    if offset >= position + size:
        return offset - size
    return min(offset, position)


def locate(text: str, target: dict[str, Any]) -> tuple[int, int] | None:
    """Re-anchor a stored range in ``text``: stored offsets if the quote still matches there,
    else the unique occurrence of the quote (prefix/suffix breaking ties), else None."""
    exact = target.get("exact") or ""
    if not exact:
        return None
    start, end = target.get("start"), target.get("end")
    if (
        isinstance(start, int)
        and isinstance(end, int)
        and 0 <= start < end <= len(text)
        and text[start:end] == exact
    ):
        return start, end
    places = []
    i = text.find(exact)
    while i != -1:
        places.append(i)
        i = text.find(exact, i + 1)
    if len(places) == 1:
        return places[0], places[0] + len(exact)
    if not places:
        return None
    prefix, suffix = target.get("prefix") or "", target.get("suffix") or ""

    def fits(at: int, before: bool, after: bool) -> bool:
        ok_before = not before or text[:at].endswith(prefix)
        ok_after = not after or text[at + len(exact) :].startswith(suffix)
        return ok_before and ok_after

    for before, after in ((True, True), (True, False), (False, True)):
        if (before and not prefix) or (after and not suffix):
            continue
        matching = [at for at in places if fits(at, before, after)]
        if len(matching) == 1:
            return matching[0], matching[0] + len(exact)
    return None
