"""Benchmark the version machinery: diff speed against nbdime, and store growth.

    PYTHONPATH=. python bench/versions_bench.py          # about a minute on 2 cores
    PYTHONPATH=. python bench/versions_bench.py --quick  # nbdime anchor on fewer sizes

Stand-alone (not part of ``python -m bench``); prints a Markdown table. Needs nbdime.

* Our diff of a generated 5 MB, 500-cell notebook against an edited copy (cells changed,
  added, removed, moved, outputs re-run), outputs ignored and included.
* nbdime's own ``diff_notebooks`` on the same kind of notebook at growing sizes: the anchor,
  showing how its time grows with the number of cells (it compares every cell with every cell).
* A source string diff: nbdime's ``diff_strings_linewise`` vs ours (difflib on lines).
* The store after 1,000 versions of a 100-cell notebook, each one a one-character edit.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import sqlite_utils

from collab_server.versions.canonical import canonical_json, strip_outputs
from collab_server.versions.diff import diff_lines, diff_notebooks
from collab_server.versions.store import VersionStore

Notebook = dict[str, Any]


def make_notebook(cells: int, target_bytes: int, seed: int = 1) -> Notebook:
    """A notebook of ``cells`` cells (3 code : 1 markdown) totalling about ``target_bytes``."""
    rng = random.Random(seed)
    code_cells = max(1, cells * 3 // 4)
    per_output = max(0, target_bytes // code_cells - 600)
    out_cells: list[dict[str, Any]] = []
    for i in range(cells):
        if i % 4 == 3:
            out_cells.append(
                {
                    "id": f"md-{i}",
                    "cell_type": "markdown",
                    "metadata": {},
                    "source": f"## Step {i}\n\nWe look at the data again, {rng.random():.6f}.\n",
                }
            )
            continue
        image = base64.b64encode(rng.randbytes(per_output * 3 // 4)).decode()
        out_cells.append(
            {
                "id": f"code-{i}",
                "cell_type": "code",
                "metadata": {},
                "execution_count": i,
                "source": "".join(f"x_{i}_{k} = compute({k}, y)\n" for k in range(12)),
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": f"step {i} done\n"},
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": image, "text/plain": "<Figure>"},
                    },
                ],
            }
        )
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": out_cells,
    }


def edited(nb: Notebook, seed: int = 2) -> Notebook:
    """A copy with 10% of cells edited, 2% removed, 2% added, 2% moved, 5% re-run."""
    rng = random.Random(seed)
    nb = copy.deepcopy(nb)
    cells = nb["cells"]
    n = len(cells)
    for cell in rng.sample(cells, max(1, n // 10)):
        lines = cell["source"].splitlines(True)
        lines[rng.randrange(len(lines))] = "changed = True\n"
        cell["source"] = "".join(lines)
    for cell in rng.sample([c for c in cells if c["cell_type"] == "code"], max(1, n // 20)):
        cell["execution_count"] = (cell["execution_count"] or 0) + 1000
        cell["outputs"][0]["text"] = "re-run\n"
    for _ in range(max(1, n // 50)):
        cells.pop(rng.randrange(len(cells)))
    for k in range(max(1, n // 50)):
        cells.insert(
            rng.randrange(len(cells)),
            {"id": f"new-{k}", "cell_type": "markdown", "metadata": {}, "source": "new\n"},
        )
    for _ in range(max(1, n // 50)):
        cells.insert(rng.randrange(len(cells)), cells.pop(rng.randrange(len(cells))))
    return nb


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def mb(nb: Notebook) -> float:
    return len(canonical_json(nb)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from nbdime.diff_utils import to_diffentry_dicts
    from nbdime.diffing.notebooks import diff_notebooks as nbdime_diff
    from nbdime.diffing.sequences import diff_strings_linewise
    from nbdime.patching import patch

    rows: list[tuple[str, str, str]] = []

    big_a = make_notebook(500, 5_000_000)
    big_b = edited(big_a)
    size = f"{mb(big_a):.1f} MB, {len(big_a['cells'])} cells"
    for outputs in (False, True):
        seconds, d = timed(lambda o=outputs: diff_notebooks(big_a, big_b, outputs=o))
        base = big_a if outputs else strip_outputs(big_a)
        want = big_b if outputs else strip_outputs(big_b)
        ok = json.loads(json.dumps(patch(base, to_diffentry_dicts(d)))) == json.loads(
            json.dumps(want)
        )
        label = "outputs included" if outputs else "outputs ignored"
        rows.append(
            (f"ours: diff, {label}", size, f"{seconds * 1000:.0f} ms (nbdime patch ok: {ok})")
        )

    # nbdime matches cells by id when every cell has one (nbformat 4.5) and otherwise compares
    # every cell with every cell by similarity (nbformat 4.4 and older files: most notebooks
    # in the wild): both paths, on the same edits.
    sizes = [10, 25, 50] if args.quick else [10, 25, 50, 100]
    for with_ids in (True, False):
        for cells in sizes:
            a = make_notebook(cells, cells * 10_000)
            b = edited(a)
            if not with_ids:
                for nb_ in (a, b):
                    nb_["nbformat_minor"] = 4
                    for cell in nb_["cells"]:
                        del cell["id"]
            label = f"{mb(a):.2f} MB, {cells} cells, {'with' if with_ids else 'no'} cell ids"
            ours, _ = timed(lambda a=a, b=b: diff_notebooks(a, b, outputs=True))
            # nbdime wants NotebookNodes (attribute access), as nbformat.read gives.
            na, nb_ = nbformat.from_dict(a), nbformat.from_dict(b)
            theirs, _ = timed(lambda a=na, b=nb_: nbdime_diff(a, b), repeat=1)
            rows.append(
                (
                    "nbdime diff_notebooks vs ours (outputs included)",
                    label,
                    f"nbdime {theirs * 1000:.0f} ms, ours {ours * 1000:.1f} ms",
                )
            )

    for n_lines in (50, 500, 2000):
        src_a = "".join(f"value_{k} = compute({k}, data)\n" for k in range(n_lines))
        lines = src_a.splitlines(True)
        for k in range(0, n_lines, 10):
            lines[k] = f"value_{k} = other({k})\n"
        src_b = "".join(lines)
        theirs, _ = timed(lambda a=src_a, b=src_b: diff_strings_linewise(a, b), repeat=1)
        ours, _ = timed(lambda a=src_a, b=src_b: diff_lines(a, b))
        rows.append(
            (
                "source diff, 10% of lines changed",
                f"{n_lines} lines",
                f"nbdime {theirs * 1000:.1f} ms, ours {ours * 1000:.2f} ms",
            )
        )

    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(str(Path(tmp) / "v.sqlite"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # as the server runs it
        store = VersionStore(sqlite_utils.Database(conn))
        nb = make_notebook(100, 0)
        for cell in nb["cells"]:
            cell["source"] = cell["source"] * 3  # ~1 kB of source per cell, no outputs
            if cell["cell_type"] == "code":
                cell["outputs"] = []
        one = len(canonical_json(nb))
        rng = random.Random(3)
        start = time.perf_counter()
        store.add("f", nb, "auto", [{"id": "u1", "name": "Ann"}])
        first = store.size("f")
        for k in range(999):
            cell = nb["cells"][rng.randrange(100)]
            cell["source"] = cell["source"] + chr(97 + k % 26)
            store.add("f", nb, "auto", [{"id": "u1", "name": "Ann"}])
        elapsed = time.perf_counter() - start
        size = store.size("f")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        file_bytes = (Path(tmp) / "v.sqlite").stat().st_size
        grown = size.stored_bytes + size.index_bytes - first.stored_bytes - first.index_bytes
        rows.append(("one version (canonical JSON)", "100 cells", f"{one / 1000:.0f} kB"))
        rows.append(
            (
                "store after 1,000 one-character versions",
                f"{size.versions} versions, {size.blobs} blobs",
                f"blobs {size.stored_bytes / 1000:.0f} kB + cell lists "
                f"{size.index_bytes / 1000:.0f} kB; database file {file_bytes / 1e6:.1f} MB; "
                f"full copies would be {one * 1000 / 1e6:.0f} MB",
            )
        )
        rows.append(
            (
                "growth per small-edit version",
                "blobs + cell list",
                f"{grown / 999:.0f} B ({elapsed / 1000 * 1000:.1f} ms per add)",
            )
        )
        start = time.perf_counter()
        for v in store.list("f", limit=20).versions:
            store.get("f", v.id)
        rows.append(
            (
                "get a version back",
                "100 cells",
                f"{(time.perf_counter() - start) / 20 * 1000:.1f} ms",
            )
        )

    print("| measure | input | result |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
