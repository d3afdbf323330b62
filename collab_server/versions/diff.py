"""Cell-level diff of two notebooks, in nbdime's diff format. Pure.

The output is a list of diff entries exactly as nbdime's ``diff_format`` defines them, as plain
JSON dicts: on a mapping ``{"op": "add"|"replace", "key": str, "value": …}``,
``{"op": "remove", "key": str}``, ``{"op": "patch", "key": str, "diff": […]}``; on a sequence
``{"op": "addrange", "key": int, "valuelist": […]}``, ``{"op": "removerange", "key": int,
"length": int}``, ``{"op": "patch", "key": int, "diff": […]}``, where ``key`` is an index into the
*base* sequence and entries are sorted by key (``addrange`` before anything else at the same
key). A ``source`` string is diffed by lines, as nbdime does (entries index
``source.splitlines(True)``). nbdime's own tools take it after ``to_diffentry_dicts`` (which is
what ``nbdime patch`` does with a diff read from JSON): ``nbdime.patch(base, diff)`` gives the
target.

How cells are matched (nbdime matches every cell with every other by similarity, O(n·m) with
costly comparisons: 4.3 MB took 8 minutes, nbdime#540):

1. by ``id`` (the first cell with a given id on each side);
2. the cells still unmatched, by exact content apart from the id (so a cut-and-pasted cell
   with a new id, or a notebook without ids, still matches);
3. matched pairs in the same order on both sides (a longest increasing subsequence) stay in
   place and become a ``patch`` if they differ; a matched pair out of order is a **move**, shown
   as ``removerange`` at its old place plus ``addrange`` at its new one (nbdime's format has no
   move), with the extra keys ``moved_to`` on the removerange and ``moved_from`` on the
   addrange: lists aligned with the cells, giving the index on the other side or null;
4. between two in-place pairs, cells without ids left unmatched on both sides are paired in
   order when the counts and cell types agree (an edited cell of a notebook without ids is a
   ``patch``, not a removal and an addition).

Outputs (and execution counts) are ignored unless ``outputs=True``: then both notebooks are
compared as if stripped, and added cells carry no outputs, so ``patch(strip(a), diff)`` gives
``strip(b)``. With outputs, a cell's outputs are diffed as a sequence of whole outputs.

Sources are diffed with :mod:`difflib` on lines after trimming the common head and tail; a
changed line is removed and added whole (nbdime would add a character-level ``patch`` inside
similar lines; its line matcher is quadratic with a similarity test per pair, see the bench).
The result shares objects with the inputs: serialise it, do not mutate it.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from typing import Any

from collab_server.versions.canonical import shared_cell

Entry = dict[str, Any]

# Above this many lines (or outputs) in the differing middle, let difflib treat very common
# lines as junk: the diff stays correct (applying it gives the target), only less minimal,
# and difflib's worst case stays bounded.
_EXACT_LIMIT = 2000


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _cell_view(cell: Any, outputs: bool) -> Any:
    """The cell as compared: canonical shape; without outputs when they are ignored."""
    view = shared_cell(cell)  # a new top-level dict: setting its keys is safe
    if isinstance(view, dict) and view.get("cell_type") == "code" and not outputs:
        view["outputs"] = []
        view["execution_count"] = None
    return view


# -- sequences -----------------------------------------------------------------------------


def _sequence_ops(
    a: Sequence[Any], b: Sequence[Any], a_keys: Sequence[Any], b_keys: Sequence[Any]
) -> list[Entry]:
    """addrange/removerange entries turning ``a`` into ``b``, items equal when keys are."""
    start = 0
    limit = min(len(a_keys), len(b_keys))
    while start < limit and a_keys[start] == b_keys[start]:
        start += 1
    end_a, end_b = len(a_keys), len(b_keys)
    while end_a > start and end_b > start and a_keys[end_a - 1] == b_keys[end_b - 1]:
        end_a -= 1
        end_b -= 1
    if start == end_a and start == end_b:
        return []
    mid_a, mid_b = a_keys[start:end_a], b_keys[start:end_b]
    autojunk = len(mid_a) > _EXACT_LIMIT and len(mid_b) > _EXACT_LIMIT
    matcher = SequenceMatcher(None, mid_a, mid_b, autojunk=autojunk)
    ops: list[Entry] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if j2 > j1:
            ops.append(
                {"op": "addrange", "key": start + i1, "valuelist": list(b[start + j1 : start + j2])}
            )
        if i2 > i1:
            ops.append({"op": "removerange", "key": start + i1, "length": i2 - i1})
    return ops


def diff_lines(a: str, b: str) -> list[Entry]:
    """nbdime's line-based string diff (keys index ``a.splitlines(True)``)."""
    if a == b:
        return []
    la, lb = a.splitlines(True), b.splitlines(True)
    return _sequence_ops(la, lb, la, lb)


def _diff_outputs(a: list[Any], b: list[Any]) -> list[Entry]:
    return _sequence_ops(a, b, [_key(o) for o in a], [_key(o) for o in b])


# -- mappings ------------------------------------------------------------------------------


def _diff_dict(
    a: dict[str, Any],
    b: dict[str, Any],
    special: dict[str, Callable[[Any, Any], list[Entry]]] | None = None,
) -> list[Entry]:
    ops: list[Entry] = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            ops.append({"op": "remove", "key": key})
        elif key not in a:
            ops.append({"op": "add", "key": key, "value": b[key]})
        elif a[key] == b[key]:
            continue
        elif special and key in special and type(a[key]) is type(b[key]):
            ops.append({"op": "patch", "key": key, "diff": special[key](a[key], b[key])})
        elif isinstance(a[key], dict) and isinstance(b[key], dict):
            ops.append({"op": "patch", "key": key, "diff": _diff_dict(a[key], b[key])})
        else:
            ops.append({"op": "replace", "key": key, "value": b[key]})
    return ops


_CELL_SPECIAL: dict[str, Callable[[Any, Any], list[Entry]]] = {
    "source": lambda x, y: diff_lines(x, y) if isinstance(x, str) else [],
    "outputs": lambda x, y: _diff_outputs(x, y) if isinstance(x, list) else [],
}


def _diff_cell(a: dict[str, Any], b: dict[str, Any]) -> list[Entry]:
    ops = _diff_dict(a, b, _CELL_SPECIAL)
    # A special differ that could not express the change (a non-string source) says so with
    # an empty diff: replace the value instead.
    return [
        {"op": "replace", "key": e["key"], "value": b[e["key"]]}
        if e["op"] == "patch" and not e["diff"]
        else e
        for e in ops
    ]


# -- cells ---------------------------------------------------------------------------------


def _increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``pairs`` (sorted by first) increasing in second: O(n log n)."""
    from bisect import bisect_left

    tails: list[int] = []  # second values
    tail_at: list[int] = []  # index into pairs of each tail
    back: list[int] = [-1] * len(pairs)
    for n, (_, j) in enumerate(pairs):
        pos = bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_at.append(n)
        else:
            tails[pos] = j
            tail_at[pos] = n
        back[n] = tail_at[pos - 1] if pos > 0 else -1
    out: list[tuple[int, int]] = []
    n = tail_at[-1] if tail_at else -1
    while n >= 0:
        out.append(pairs[n])
        n = back[n]
    out.reverse()
    return out


def _cell_id(cell: Any) -> str | None:
    value = cell.get("id") if isinstance(cell, dict) else None
    return value if isinstance(value, str) else None


def _content_key(cell: Any) -> str:
    if isinstance(cell, dict) and "id" in cell:
        return _key({k: v for k, v in cell.items() if k != "id"})
    return _key(cell)


def _cell_type(cell: Any) -> Any:
    return cell.get("cell_type") if isinstance(cell, dict) else None


def diff_cells(
    a_cells: Sequence[Any], b_cells: Sequence[Any], outputs: bool = False
) -> list[Entry]:
    """The sequence diff of two lists of cells (see the module docstring)."""
    a = [_cell_view(c, outputs) for c in a_cells]
    b = [_cell_view(c, outputs) for c in b_cells]
    # Content keys leave the id out, so a cell pasted back under a new id matches by content;
    # a matched pair differs if its content key or its id does.
    a_keys = [_content_key(c) for c in a]
    b_keys = [_content_key(c) for c in b]

    def differs(x: int, y: int) -> bool:
        return a_keys[x] != b_keys[y] or _cell_id(a[x]) != _cell_id(b[y])

    match: dict[int, int] = {}
    taken: set[int] = set()
    b_by_id: dict[str, int] = {}
    for j, cell in enumerate(b):
        cid = _cell_id(cell)
        if cid is not None:
            b_by_id.setdefault(cid, j)
    seen_ids: set[str] = set()
    for i, cell in enumerate(a):
        cid = _cell_id(cell)
        if cid is None or cid in seen_ids:
            continue
        seen_ids.add(cid)
        target = b_by_id.get(cid)
        if target is not None:
            match[i] = target
            taken.add(target)
    by_content: dict[str, deque[int]] = defaultdict(deque)
    for j, k in enumerate(b_keys):
        if j not in taken:
            by_content[k].append(j)
    for i, k in enumerate(a_keys):
        if i not in match and by_content.get(k):
            j = by_content[k].popleft()
            match[i] = j
            taken.add(j)

    anchors = _increasing(sorted(match.items()))
    in_place = {i for i, _ in anchors}
    moved_to = {i: j for i, j in match.items() if i not in in_place}
    moved_from = {j: i for i, j in moved_to.items()}

    ops: list[Entry] = []
    ai = bj = 0
    for i, j in [*anchors, (len(a), len(b))]:
        gap_a, gap_b = range(ai, i), range(bj, j)
        if (
            gap_a
            and len(gap_a) == len(gap_b)
            and not any(x in moved_to for x in gap_a)
            and not any(y in moved_from for y in gap_b)
            and all(
                _cell_id(a[x]) is None
                and _cell_id(b[y]) is None
                and _cell_type(a[x]) == _cell_type(b[y])
                for x, y in zip(gap_a, gap_b, strict=True)
            )
        ):
            for x, y in zip(gap_a, gap_b, strict=True):
                if differs(x, y):
                    ops.append({"op": "patch", "key": x, "diff": _patch_value(a[x], b[y])})
        else:
            if gap_b:
                added: Entry = {"op": "addrange", "key": ai, "valuelist": [b[y] for y in gap_b]}
                if any(y in moved_from for y in gap_b):
                    added["moved_from"] = [moved_from.get(y) for y in gap_b]
                ops.append(added)
            if gap_a:
                removed: Entry = {"op": "removerange", "key": ai, "length": len(gap_a)}
                if any(x in moved_to for x in gap_a):
                    removed["moved_to"] = [moved_to.get(x) for x in gap_a]
                ops.append(removed)
        if i < len(a) and differs(i, j):
            ops.append({"op": "patch", "key": i, "diff": _patch_value(a[i], b[j])})
        ai, bj = i + 1, j + 1
    return ops


def _patch_value(a: Any, b: Any) -> list[Entry]:
    if isinstance(a, dict) and isinstance(b, dict):
        return _diff_cell(a, b)
    raise ValueError("a cell is not a JSON object")


def diff_notebooks(a: dict[str, Any], b: dict[str, Any], outputs: bool = False) -> list[Entry]:
    """The nbdime-format diff turning notebook ``a`` into ``b`` (outputs ignored by default)."""
    cells_diff = diff_cells(a.get("cells") or [], b.get("cells") or [], outputs=outputs)
    a_rest = {k: v for k, v in a.items() if k != "cells"}
    b_rest = {k: v for k, v in b.items() if k != "cells"}
    ops = _diff_dict(a_rest, b_rest)
    if cells_diff:
        ops.append({"op": "patch", "key": "cells", "diff": cells_diff})
    elif "cells" in b and "cells" not in a:
        ops.append({"op": "add", "key": "cells", "value": list(b["cells"])})
    return sorted(ops, key=lambda e: e["key"])
