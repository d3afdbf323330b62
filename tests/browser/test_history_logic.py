"""The History panel's diff rows, run in node (bundled from frontend/src by esbuild, no
browser), fed the server's own diff (collab_server.versions.diff, nbdime's format): added,
removed, moved and changed cells, the changed part of a line marked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collab_server.versions.diff import diff_notebooks
from support.frontend import needs_node, run_in_node

pytestmark = needs_node

CHECK = """
import { diffRows, markChange, notebookChanges } from "SRC/history/diffview";
const input = JSON.parse(process.argv[2]);
console.log(JSON.stringify({
  rows: diffRows(input.cells, input.diff),
  others: notebookChanges(input.diff),
  mark: markChange("x = 1\\n", "x = 12\\n"),
}));
"""


def cell(cid: str, source: str, kind: str = "code") -> dict[str, Any]:
    out: dict[str, Any] = {"id": cid, "cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        out.update(outputs=[], execution_count=None)
    return out


def notebook(*cells: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def run(tmp_path: Path, base: dict[str, Any], target: dict[str, Any]) -> Any:
    payload = json.dumps({"cells": base["cells"], "diff": diff_notebooks(base, target)})
    return run_in_node(CHECK, tmp_path, payload)


def test_diff_rows_from_the_servers_diff(tmp_path: Path) -> None:
    base = notebook(
        cell("a", "import os\nx = 1\nprint(x)\n"),
        cell("b", "# Title", "markdown"),
        cell("c", "gone = True"),
        cell("d", "moves = 1"),
        cell("e", "stays = 1"),
    )
    target = notebook(
        cell("d", "moves = 1"),
        cell("a", "import os\nx = 12\nprint(x)\n"),
        cell("b", "# Title", "markdown"),
        cell("new", "added = 1"),
        cell("e", "stays = 1"),
        title="changed",
    )
    result = run(tmp_path, base, target)
    rows = result["rows"]
    kinds = [(r["kind"], r["source"]) for r in rows if r["kind"] != "changed"]
    assert ("moved-here", "moves = 1") in kinds and ("moved-away", "moves = 1") in kinds
    assert ("removed", "gone = True") in kinds and ("added", "added = 1") in kinds
    assert ("same", "# Title") in kinds and ("same", "stays = 1") in kinds
    [changed] = [r for r in rows if r["kind"] == "changed"]
    lines = [
        (line["kind"], "".join(p["text"] for p in line["pieces"])) for line in changed["lines"]
    ]
    assert lines == [
        ("same", "import os\n"), ("del", "x = 1\n"), ("ins", "x = 12\n"), ("same", "print(x)\n")
    ]  # fmt: skip
    inserted = changed["lines"][2]["pieces"]
    assert [p["text"] for p in inserted if p["mark"]] == ["2"]
    moved_here = next(r for r in rows if r["kind"] == "moved-here")
    assert moved_here["movedFrom"] == 4  # the fourth cell of the base
    assert result["others"] == ["notebook metadata"]
    assert result["mark"] == [
        [{"text": "x = 1", "mark": False}, {"text": "\n", "mark": False}],
        [
            {"text": "x = 1", "mark": False},
            {"text": "2", "mark": True},
            {"text": "\n", "mark": False},
        ],
    ]


def test_no_changes_give_only_unchanged_rows(tmp_path: Path) -> None:
    nb = notebook(cell("a", "x = 1"), cell("b", "y = 2"))
    result = run(tmp_path, nb, nb)
    assert [r["kind"] for r in result["rows"]] == ["same", "same"] and result["others"] == []
