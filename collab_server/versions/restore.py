"""Turn a live notebook document into a version's content as one forward CRDT edit.

A restore is not a reload: clients keep their document and receive an ordinary update, so
nothing reconnects, and edits typed concurrently merge as any two CRDT edits do. To keep as
much identity as possible (cursors, comments attached by cell id, concurrent typing), the
edit is minimal:

* cells are matched by ``id`` (the first live cell with an id; later duplicates are removed);
* matched cells that keep their relative order stay where they are and are patched field by
  field, a changed ``source`` by the smallest text edit;
* matched cells out of order (a longest increasing subsequence decides which) are removed and
  inserted again at their new place with the same id (pycrdt 0.14 has no array move);
* other live cells are removed, other version cells inserted.

Call :func:`apply_notebook` inside one transaction of the document, on the event loop, with
no ``await`` between reading the document and editing it: the read and the edit are then one
atomic step for the room.
"""

from __future__ import annotations

import copy
from bisect import bisect_left
from typing import Any

from jupyter_ydoc import YNotebook
from pycrdt import Array, Doc, Map, Text

from ..rooms.document import normalize_notebook, replace_text
from .canonical import shared_cell

# Built once, outside any transaction: making a YNotebook inside one panics in pycrdt. Its
# ``create_ycell`` only converts values and never touches its own document.
_CONVERTER = YNotebook(Doc())


def _increasing(positions: list[int]) -> set[int]:
    """Indexes (into ``positions``) of a longest strictly increasing subsequence."""
    tails: list[int] = []
    tail_at: list[int] = []
    previous: list[int] = [-1] * len(positions)
    for i, value in enumerate(positions):
        j = bisect_left(tails, value)
        if j == len(tails):
            tails.append(value)
            tail_at.append(i)
        else:
            tails[j] = value
            tail_at[j] = i
        previous[i] = tail_at[j - 1] if j else -1
    keep: set[int] = set()
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        keep.add(i)
        i = previous[i]
    return keep


def _cell_value(ycell: Map) -> dict[str, Any]:
    value: dict[str, Any] = shared_cell(ycell.to_py())
    value.pop("execution_state", None)  # jupyter_ydoc's runtime field, not in a file
    return value


def _patch_cell(ycell: Map, live: dict[str, Any], target: dict[str, Any]) -> None:
    for key in set(live) | set(target):
        if key in ("id", "execution_state") or live.get(key) == target.get(key):
            continue
        if key not in target:
            del ycell[key]
        elif key == "source":
            ytext = ycell.get("source")
            if isinstance(ytext, Text):
                replace_text(ytext, str(ytext), target["source"])
            else:
                ycell["source"] = Text(target["source"])
        elif key == "metadata":
            ycell["metadata"] = Map(copy.deepcopy(target["metadata"]))
        elif key == "outputs":
            # jupyter_ydoc's own conversion, so stream outputs get the Text JupyterLab expects.
            _CONVERTER._set_ycell_outputs(ycell, copy.deepcopy(target["outputs"]) or [])
        else:
            ycell[key] = copy.deepcopy(target[key])


def keep_comments(version: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """``version`` with the comment threads of ``current`` (``metadata.collab.comments``).

    Comments are not part of a notebook's history: they live in their own document and are
    written into the file on save (the notebook's room never holds them). A restore must
    neither bring back old threads nor drop new ones, so it keeps whatever ``current`` has
    (the live room: none; the file: its threads).
    """
    metadata = dict(version.get("metadata") or {})
    collab = dict(metadata.get("collab") or {})
    now = (current.get("metadata") or {}).get("collab") or {}
    if isinstance(now, dict) and "comments" in now:
        collab["comments"] = now["comments"]
    else:
        collab.pop("comments", None)
    if collab:
        metadata["collab"] = collab
    else:
        metadata.pop("collab", None)
    return {**version, "metadata": metadata}


def apply_notebook(ydoc: Doc, version: dict[str, Any]) -> None:
    """Edit ``ydoc`` (a YNotebook document) in place so its content is ``version``."""
    target = normalize_notebook(version)
    target_cells = [shared_cell(c) for c in target.get("cells", [])]
    target_index = {c["id"]: i for i, c in enumerate(target_cells)}
    ymeta = ydoc.get("meta", type=Map)
    ycells = ydoc.get("cells", type=Array)

    metadata = target.get("metadata", {})
    current_meta = ymeta.get("metadata")
    current_meta = current_meta.to_py() if isinstance(current_meta, Map) else current_meta
    if current_meta != metadata:
        ymeta["metadata"] = Map(copy.deepcopy(metadata))
    for key in ("nbformat", "nbformat_minor"):
        if key in target and ymeta.get(key) != target[key]:
            ymeta[key] = target[key]

    # Which live cells to keep: the first with each id the version has, in version order.
    live_ids = [ycells[i].get("id") for i in range(len(ycells))]
    seen: set[str] = set()
    candidates: list[int] = []  # live indexes
    for i, cell_id in enumerate(live_ids):
        if cell_id in target_index and cell_id not in seen:
            seen.add(cell_id)
            candidates.append(i)
    in_order = _increasing([target_index[live_ids[i]] for i in candidates])
    keep = {candidates[k] for k in in_order}
    for i in reversed(range(len(ycells))):
        if i not in keep:
            del ycells[i]

    # Now the live cells are a subsequence of the version's: one pass inserts the rest.
    for position, cell in enumerate(target_cells):
        if position < len(ycells) and ycells[position].get("id") == cell["id"]:
            ycell = ycells[position]
            _patch_cell(ycell, _cell_value(ycell), cell)
        else:
            ycells.insert(position, _CONVERTER.create_ycell(cell))
