"""Cell-level notebook diffs in nbdime's format: nbdime's own patch must reproduce the target."""

from __future__ import annotations

import copy
import io
import json
import random
import time
from typing import Any

import pytest
from nbdime.diff_format import validate_diff
from nbdime.diff_utils import to_diffentry_dicts
from nbdime.patching import patch
from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

from collab_server.versions.canonical import normalize, strip_outputs
from collab_server.versions.diff import diff_lines, diff_notebooks


def code(cid: str | None, source: str, outputs: list | None = None, count: int | None = None):
    cell: dict[str, Any] = {
        "cell_type": "code",
        "metadata": {},
        "execution_count": count,
        "source": source,
        "outputs": outputs or [],
    }
    if cid is not None:
        cell["id"] = cid
    return cell


def md(cid: str | None, source: str):
    cell = {"cell_type": "markdown", "metadata": {}, "source": source}
    if cid is not None:
        cell["id"] = cid
    return cell


def stream(text: str):
    return {"output_type": "stream", "name": "stdout", "text": text}


def nb(*cells, minor: int = 5, metadata: dict | None = None):
    return {
        "nbformat": 4,
        "nbformat_minor": minor,
        "metadata": metadata or {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": list(cells),
    }


def applies(a: dict, b: dict, outputs: bool) -> list:
    """The diff, checked: valid for nbdime, JSON, and nbdime's patch turns a into b."""
    d = diff_notebooks(a, b, outputs=outputs)
    entries = to_diffentry_dicts(json.loads(json.dumps(d)))
    validate_diff(entries, deep=True)
    base, want = (normalize(a), normalize(b)) if outputs else (strip_outputs(a), strip_outputs(b))
    assert json.loads(json.dumps(patch(base, entries))) == want
    return d


def cells_diff(d: list) -> list:
    (entry,) = [e for e in d if e["key"] == "cells"]
    assert entry["op"] == "patch"
    return entry["diff"]


BASE = nb(
    md("m1", "# Title\n"),
    code("c1", "import math\nx = 1\n", [stream("1\n")], 1),
    code("c2", "y = x + 1\nprint(y)\n", [stream("2\n")], 2),
    md("m2", "Notes\n"),
)


def test_identical_notebooks_have_an_empty_diff():
    assert diff_notebooks(BASE, copy.deepcopy(BASE)) == []
    assert diff_notebooks(BASE, copy.deepcopy(BASE), outputs=True) == []


def test_changed_source_is_a_line_patch_of_the_matched_cell():
    b = copy.deepcopy(BASE)
    b["cells"][2]["source"] = "y = x + 2\nprint(y)\n"
    d = applies(BASE, b, outputs=False)
    assert cells_diff(d) == [
        {
            "op": "patch",
            "key": 2,
            "diff": [
                {
                    "op": "patch",
                    "key": "source",
                    "diff": [
                        {"op": "addrange", "key": 0, "valuelist": ["y = x + 2\n"]},
                        {"op": "removerange", "key": 0, "length": 1},
                    ],
                }
            ],
        }
    ]


def test_added_and_removed_cells():
    b = copy.deepcopy(BASE)
    del b["cells"][1]
    b["cells"].insert(2, md("new", "Added\n"))
    d = applies(BASE, b, outputs=False)
    assert cells_diff(d) == [
        {"op": "removerange", "key": 1, "length": 1},
        {"op": "addrange", "key": 3, "valuelist": [md("new", "Added\n")]},
    ]


def test_moved_cell_is_remove_plus_add_with_hints():
    b = copy.deepcopy(BASE)
    b["cells"].append(b["cells"].pop(0))  # title moved to the end
    d = applies(BASE, b, outputs=False)
    assert cells_diff(d) == [
        {"op": "removerange", "key": 0, "length": 1, "moved_to": [3]},
        {"op": "addrange", "key": 4, "valuelist": [BASE["cells"][0]], "moved_from": [0]},
    ]


def test_cells_match_by_id_not_position():
    b = copy.deepcopy(BASE)
    b["cells"].insert(0, code("c0", "setup()\n"))
    b["cells"][3]["source"] = "y = 3\n"
    d = applies(BASE, b, outputs=False)
    ops = [(e["op"], e["key"]) for e in cells_diff(d)]
    assert ops == [("addrange", 0), ("patch", 2)]  # c2 is base index 2 whatever its new place


def test_cell_metadata_and_notebook_metadata():
    b = copy.deepcopy(BASE)
    b["cells"][1]["metadata"]["tags"] = ["parameters"]
    b["metadata"]["collab"] = {"comments": {"schemaVersion": 1, "threads": []}}
    b["metadata"]["kernelspec"]["display_name"] = "Py3"
    d = applies(BASE, b, outputs=False)
    assert d[1] == {
        "op": "patch",
        "key": "metadata",
        "diff": [
            {
                "op": "add",
                "key": "collab",
                "value": {"comments": {"schemaVersion": 1, "threads": []}},
            },
            {
                "op": "patch",
                "key": "kernelspec",
                "diff": [{"op": "replace", "key": "display_name", "value": "Py3"}],
            },
        ],
    }
    assert cells_diff(d) == [
        {
            "op": "patch",
            "key": 1,
            "diff": [
                {
                    "op": "patch",
                    "key": "metadata",
                    "diff": [{"op": "add", "key": "tags", "value": ["parameters"]}],
                }
            ],
        }
    ]


def test_outputs_are_ignored_unless_asked():
    b = copy.deepcopy(BASE)
    b["cells"][1]["outputs"] = [stream("1\n"), stream("more\n")]
    b["cells"][1]["execution_count"] = 7
    assert applies(BASE, b, outputs=False) == []
    d = applies(BASE, b, outputs=True)
    assert cells_diff(d) == [
        {
            "op": "patch",
            "key": 1,
            "diff": [
                {"op": "replace", "key": "execution_count", "value": 7},
                {
                    "op": "patch",
                    "key": "outputs",
                    "diff": [{"op": "addrange", "key": 1, "valuelist": [stream("more\n")]}],
                },
            ],
        }
    ]


def test_added_cells_carry_no_outputs_when_outputs_are_ignored():
    b = copy.deepcopy(BASE)
    b["cells"].append(code("c9", "plot()\n", [stream("x" * 1000)], 9))
    (added,) = cells_diff(applies(BASE, b, outputs=False))
    assert (
        added["valuelist"][0]["outputs"] == [] and added["valuelist"][0]["execution_count"] is None
    )
    (added,) = cells_diff(applies(BASE, b, outputs=True))
    assert added["valuelist"][0]["outputs"] == [stream("x" * 1000)]


def test_lines_as_lists_equal_the_joined_strings():
    b = copy.deepcopy(BASE)
    for cell in b["cells"]:
        cell["source"] = cell["source"].splitlines(True)
        for output in cell.get("outputs", []):
            output["text"] = output["text"].splitlines(True)
    assert diff_notebooks(BASE, b) == []
    assert diff_notebooks(BASE, b, outputs=True) == []


def test_notebooks_without_ids_match_by_content_then_in_order():
    a = nb(
        md(None, "# T\n"), code(None, "a = 1\n"), code(None, "b = 2\n"), md(None, "end\n"), minor=4
    )
    b = copy.deepcopy(a)
    b["cells"][1]["source"] = "a = 10\n"  # edited: paired in place, not removed and added
    b["cells"].insert(0, b["cells"].pop(3))  # "end" moved to the top: matched by content
    d = applies(a, b, outputs=False)
    assert [(e["op"], e["key"]) for e in cells_diff(d)] == [
        ("addrange", 0),
        ("patch", 1),
        ("removerange", 3),
    ]
    assert cells_diff(d)[0]["moved_from"] == [3]


def test_type_change_and_new_ids():
    b = copy.deepcopy(BASE)
    b["cells"][3] = {**md("m2", "Notes\n"), "cell_type": "raw"}
    b["cells"][0]["id"] = "renamed"  # a pasted cell gets a new id: matched by content
    d = applies(BASE, b, outputs=False)
    ops = cells_diff(d)
    assert [(e["op"], e["key"]) for e in ops] == [("patch", 0), ("patch", 3)]
    assert ops[0]["diff"] == [{"op": "replace", "key": "id", "value": "renamed"}]


def test_line_diff_shapes():
    assert diff_lines("a\nb\nc\n", "a\nb\nc\n") == []
    assert diff_lines("", "x\n") == [{"op": "addrange", "key": 0, "valuelist": ["x\n"]}]
    assert diff_lines("a\nb\n", "a\n") == [{"op": "removerange", "key": 1, "length": 1}]
    assert diff_lines("a\nb", "a\nb\n") == [
        {"op": "addrange", "key": 1, "valuelist": ["b\n"]},
        {"op": "removerange", "key": 1, "length": 1},
    ]


def random_notebook(rng: random.Random, ids: bool) -> dict:
    cells = []
    for k in range(rng.randint(0, 12)):
        if rng.random() < 0.5:
            lines = "".join(f"x{k}_{n} = {rng.randint(0, 3)}\n" for n in range(rng.randint(0, 5)))
            cell = code(f"c{k}" if ids else None, lines, [stream(f"{k}\n")], k)
        else:
            cell = md(f"m{k}" if ids else None, f"# {k}\n{rng.randint(0, 3)}")
        cells.append(cell)
    return nb(*cells, minor=5 if ids else 4)


def random_edit(rng: random.Random, a: dict, ids: bool) -> dict:
    b = copy.deepcopy(a)
    cells = b["cells"]
    for n in range(rng.randint(0, 6)):
        r = rng.random()
        if r < 0.15 and cells:
            cells.pop(rng.randrange(len(cells)))
        elif r < 0.3:
            cells.insert(rng.randint(0, len(cells)), md(f"n{n}" if ids else None, f"new {n}\n"))
        elif r < 0.5 and cells:
            cell = rng.choice(cells)
            lines = cell["source"].splitlines(True) or [""]
            lines[rng.randrange(len(lines))] = f"edit {n}\n"
            cell["source"] = "".join(lines)
        elif r < 0.65 and len(cells) > 1:
            cells.insert(rng.randint(0, len(cells) - 1), cells.pop(rng.randrange(len(cells))))
        elif r < 0.75 and cells:
            rng.choice(cells)["metadata"]["tags"] = [f"t{n}"]
        elif r < 0.9 and cells:
            cell = rng.choice(cells)
            if cell["cell_type"] == "code":
                cell["outputs"] = [stream(f"rerun {n}\n")]
                cell["execution_count"] = 100 + n
        else:
            b["metadata"][f"k{n}"] = n
    return b


@pytest.mark.parametrize("ids", [True, False])
def test_random_edits_round_trip_through_nbdime_patch(ids):
    rng = random.Random(20260301 + ids)
    for _ in range(100):
        a = random_notebook(rng, ids)
        b = random_edit(rng, a, ids)
        applies(a, b, outputs=False)
        applies(a, b, outputs=True)


def test_nbdime_pretty_prints_our_diff():
    b = copy.deepcopy(BASE)
    b["cells"].append(b["cells"].pop(0))
    b["cells"][0]["source"] = "import math\nx = 2\n"
    out = io.StringIO()
    entries = to_diffentry_dicts(diff_notebooks(BASE, b))
    pretty_print_diff(BASE, entries, "", PrettyPrintConfig(out=out))
    text = out.getvalue()
    assert "x = 2" in text and "# Title" in text


def big_notebook(cells: int, size: int, rng: random.Random) -> dict:
    payload = max(0, size // cells - 500)
    out = []
    for k in range(cells):
        blob = "".join(rng.choice("abcdefghijklmnop") for _ in range(64)) * (payload // 64)
        out.append(
            code(
                f"c{k}",
                "".join(f"v{k}_{n} = f({n})\n" for n in range(10)),
                [
                    stream(f"{k}\n"),
                    {"output_type": "display_data", "metadata": {}, "data": {"image/png": blob}},
                ],
                k,
            )
        )
    return nb(*out)


def test_five_megabytes_and_500_cells_diff_well_under_two_seconds():
    rng = random.Random(5)
    a = big_notebook(500, 5_000_000, rng)
    assert len(json.dumps(a)) > 4_900_000
    b = copy.deepcopy(a)
    for cell in rng.sample(b["cells"], 50):
        cell["source"] += "changed = True\n"
    for cell in rng.sample(b["cells"], 25):
        cell["outputs"][0] = stream("rerun\n")
    for _ in range(10):
        b["cells"].insert(
            rng.randrange(len(b["cells"])), b["cells"].pop(rng.randrange(len(b["cells"])))
        )
    for outputs in (False, True):
        start = time.perf_counter()
        d = diff_notebooks(a, b, outputs=outputs)
        elapsed = time.perf_counter() - start
        assert elapsed < 2.0, (outputs, elapsed)
        base, want = (a, b) if outputs else (strip_outputs(a), strip_outputs(b))
        assert json.loads(json.dumps(patch(base, to_diffentry_dicts(d)))) == want
