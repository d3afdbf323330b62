"""Change requests' content rules: what a proposal changes, and applying it to a notebook that
moved on since. Pure.

A change request holds three notebooks: the **base** (the target as the proposer started from
it: the version a copy was cloned from, else the target when the request was made), the
**proposal**, and — when someone accepts — the target's **current** state. Cells are matched
by ``id`` (nbformat 4.5; :func:`~collab_server.rooms.document.normalize_notebook` gives every
cell one, and a clone keeps its source's ids).

:func:`three_way` applies the proposal's changes (cells added, removed, edited, reordered;
notebook metadata) to the current notebook. It refuses with :class:`MergeConflict` — the
request then answers 409 naming the cells — when both sides changed the same thing
differently:

* a cell edited by the proposal and edited otherwise, or removed, since the base;
* a cell removed by the proposal and edited since;
* the notebook's metadata changed on both sides differently;
* cells reordered by the proposal while cells were added, removed or reordered since.

Outputs and execution counts are no part of a proposal (they may hold the proposer's data,
the rule nbgallery applies before anything is shared): cells compare without them, a cell the
proposal edits arrives without outputs, every other cell keeps the current one's. The comment
threads (``metadata.collab.comments``) are the target's discussion: never compared, never
taken from the proposal.
"""

from __future__ import annotations

import copy
import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from ..rooms.document import normalize_notebook
from ..versions.canonical import shared_cell

Notebook = dict[str, Any]


class MergeConflict(ValueError):
    """The proposal and later changes to the target touch the same cells (or metadata)."""

    def __init__(self, message: str, cells: list[str]) -> None:
        super().__init__(message)
        self.cells = cells


def _metadata(nb: Notebook) -> dict[str, Any]:
    """The notebook's metadata without the comment threads (not part of a change)."""
    metadata = copy.deepcopy(nb.get("metadata") or {})
    collab = metadata.get("collab")
    if isinstance(collab, dict):
        collab.pop("comments", None)
        if not collab:
            metadata.pop("collab")
    return dict(metadata)


def cell_key(cell: dict[str, Any]) -> str:
    """What a cell's content is, for comparison: everything but its id and outputs."""
    view = dict(shared_cell(cell))
    view.pop("id", None)
    view.pop("outputs", None)
    view.pop("execution_count", None)
    view.pop("execution_state", None)
    metadata = view.get("metadata")
    if isinstance(metadata, dict) and "trusted" in metadata:
        # jupyter_server's signature check marks cells when it reads a file: no content.
        view["metadata"] = {k: v for k, v in metadata.items() if k != "trusted"}
    return json.dumps(view, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def without_outputs(cell: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(shared_cell(cell)))
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("trusted", None)
    if out.get("cell_type") == "code":
        out["outputs"] = []
        out["execution_count"] = None
    return out


@dataclass
class _Side:
    ids: list[str]
    cells: dict[str, dict[str, Any]]
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, nb: Notebook) -> _Side:
        normal = normalize_notebook(nb)
        cells = {str(c["id"]): c for c in normal.get("cells", [])}
        side = cls([str(c["id"]) for c in normal.get("cells", [])], cells)
        side.keys = {i: cell_key(c) for i, c in cells.items()}
        return side


def same_content(a: Notebook, b: Notebook) -> bool:
    """Do ``a`` and ``b`` hold the same cells and metadata (outputs and comments aside)?"""
    x, y = _Side.of(a), _Side.of(b)
    return x.ids == y.ids and x.keys == y.keys and _metadata(a) == _metadata(b)


def three_way(base: Notebook, proposed: Notebook, current: Notebook) -> Notebook:
    """``current`` with the changes from ``base`` to ``proposed`` applied (see the module
    docstring); raises :class:`MergeConflict` when they cannot be."""
    b, p, c = _Side.of(base), _Side.of(proposed), _Side.of(current)
    common = set(b.ids)
    edited_p = {i for i in common & set(p.ids) if p.keys[i] != b.keys[i]}
    removed_p = common - set(p.ids)
    added_p = [i for i in p.ids if i not in common]
    conflicts: list[str] = []
    for i in sorted(edited_p):
        if i not in c.cells or (c.keys[i] != b.keys[i] and c.keys[i] != p.keys[i]):
            conflicts.append(i)
    conflicts += [i for i in sorted(removed_p) if i in c.cells and c.keys[i] != b.keys[i]]
    conflicts += [i for i in added_p if i in c.cells and c.keys[i] != p.keys[i]]
    if conflicts:
        many = len(conflicts) != 1
        raise MergeConflict(
            f"The notebook changed since this request was made: {len(conflicts)} "
            f"cell{'s' if many else ''} it edits {'were' if many else 'was'} also edited or"
            " removed. Ask for a new request from the notebook as it is now.",
            conflicts,
        )
    meta_b, meta_p, meta_c = _metadata(base), _metadata(proposed), _metadata(current)
    if meta_p != meta_b and meta_c not in (meta_b, meta_p):
        raise MergeConflict(
            "The notebook's settings (metadata) changed both in the request and since it was "
            "made. Ask for a new request from the notebook as it is now.",
            [],
        )
    kept_b = [i for i in b.ids if i in p.cells]
    kept_p = [i for i in p.ids if i in common]
    reordered = kept_b != kept_p

    def take(i: str) -> dict[str, Any]:
        if i in edited_p or i not in c.cells:
            return without_outputs(p.cells[i])
        return copy.deepcopy(c.cells[i])

    if reordered:
        if c.ids != b.ids:
            raise MergeConflict(
                "This request moves cells, and cells were added, removed or moved since it was "
                "made. Ask for a new request from the notebook as it is now.",
                [],
            )
        order = list(p.ids)
    else:
        order = [i for i in c.ids if i not in removed_p]
        for n, i in enumerate(p.ids):
            if i in common or i in order:
                continue
            # After the nearest cell before it in the proposal that is in the result.
            at = 0
            for before in reversed(p.ids[:n]):
                if before in order:
                    at = order.index(before) + 1
                    break
            order.insert(at, i)
    result = {k: copy.deepcopy(v) for k, v in current.items() if k != "cells"}
    result["metadata"] = meta_p if meta_p != meta_b else meta_c
    result["cells"] = [take(i) for i in order]
    return result


def summary(base: Notebook, proposed: Notebook, context: int = 2) -> list[dict[str, Any]]:
    """What the proposal changes, for a person: one entry per cell added, removed, edited or
    moved, in notebook order (a removed cell where it was), each with its ``position`` (from
    1; in the base for a removed cell) and ``lines``: a line-level diff as ``[{"op": " " |
    "-" | "+" | "…", "text"}]`` (unchanged lines cut to ``context`` around changes)."""
    b, p = _Side.of(base), _Side.of(proposed)
    out: list[dict[str, Any]] = []

    def source(cell: dict[str, Any]) -> str:
        return str(shared_cell(cell).get("source") or "")

    def entry(
        kind: str, i: str, cell: dict[str, Any], position: int, lines: list[dict[str, str]]
    ) -> None:
        out.append({"kind": kind, "cell_id": i, "cell_type": cell.get("cell_type", "code"),
                    "position": position, "lines": lines})  # fmt: skip

    kept_b = [i for i in b.ids if i in p.cells]
    kept_p = [i for i in p.ids if i in b.cells]
    moved = set()
    if kept_b != kept_p:
        matcher = difflib.SequenceMatcher(a=kept_b, b=kept_p, autojunk=False)
        in_place = {kept_b[m.a + k] for m in matcher.get_matching_blocks() for k in range(m.size)}
        moved = set(kept_p) - in_place
    base_at = {i: n for n, i in enumerate(b.ids)}
    removed = [i for i in b.ids if i not in p.cells]

    def removed_before(limit: int) -> None:
        while removed and base_at[removed[0]] < limit:
            i = removed.pop(0)
            gone = [{"op": "-", "text": t} for t in _lines(source(b.cells[i]))]
            entry("removed", i, b.cells[i], base_at[i] + 1, gone)

    for n, i in enumerate(p.ids):
        cell = p.cells[i]
        if i not in b.cells:
            entry("added", i, cell, n + 1, [{"op": "+", "text": t} for t in _lines(source(cell))])
            continue
        if i not in moved:
            removed_before(base_at[i])
        if p.keys[i] != b.keys[i]:
            old, new = _lines(source(b.cells[i])), _lines(source(cell))
            lines = _line_diff(old, new, context)
            entry("moved and edited" if i in moved else "edited", i, cell, n + 1, lines)
        elif i in moved:
            entry("moved", i, cell, n + 1, [])
    removed_before(len(b.ids))
    if _metadata(base) != _metadata(proposed):
        out.append({"kind": "metadata", "cell_id": None, "cell_type": None, "position": None,
                    "lines": []})  # fmt: skip
    return out


def _lines(text: str) -> list[str]:
    return text.splitlines() or [""]


def _line_diff(old: list[str], new: list[str], context: int) -> list[dict[str, str]]:
    lines: list[dict[str, str]] = []
    for group in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_grouped_opcodes(context):
        if lines:
            lines.append({"op": "…", "text": ""})
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [{"op": " ", "text": t} for t in old[i1:i2]]
                continue
            lines += [{"op": "-", "text": t} for t in old[i1:i2]]
            lines += [{"op": "+", "text": t} for t in new[j1:j2]]
    return lines
