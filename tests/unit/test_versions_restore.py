"""Restore as a forward edit (``versions.restore``) and retention in its own connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jupyter_ydoc import YNotebook
from pycrdt import Doc, Text

from collab_server.core.db import open_database
from collab_server.versions.canonical import normalize
from collab_server.versions.restore import apply_notebook, keep_comments
from collab_server.versions.retention import RetentionPolicy
from collab_server.versions.service import apply_retention
from collab_server.versions.store import VersionStore


def nb(*cells: tuple[str, str], outputs: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"title": "t"},
        "cells": [
            {"id": i, "cell_type": "code", "source": s, "metadata": {}, "execution_count": None,
             "outputs": (outputs or {}).get(i, [])}
            for i, s in cells
        ],
    }  # fmt: skip


def content(doc: Doc) -> dict[str, Any]:
    got = YNotebook(doc).get()
    for cell in got["cells"]:
        cell.pop("execution_state", None)
    return normalize(got)


def live(value: dict[str, Any]) -> Doc:
    doc: Doc = Doc()
    YNotebook(doc).set(value)
    return doc


def restore(doc: Doc, value: dict[str, Any]) -> None:
    with doc.transaction():
        apply_notebook(doc, value)


def test_restore_edits_moves_inserts_and_removes_cells_by_id() -> None:
    doc = live(nb(("a", "x = 1"), ("b", "y = 2"), ("c", "z")))
    out = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    target = nb(("c", "z = 3"), ("a", "x = 10"), ("d", "new"), outputs={"a": out})
    cells = YNotebook(doc).ycells
    texts = {"a": cells[0]["source"], "c": cells[2]["source"]}
    restore(doc, target)
    assert content(doc) == normalize(target)
    # a and c swapped places: one of them stays put and keeps its CRDT text (cursors and
    # concurrent typing survive), the other is moved (removed and inserted again).
    assert str(texts["a"]) == "x = 10" or str(texts["c"]) == "z = 3"


def test_restore_of_an_edited_cell_keeps_its_text_object() -> None:
    doc = live(nb(("a", "x = 1"), ("b", "y")))
    text = YNotebook(doc).ycells[0]["source"]
    restore(doc, nb(("a", "x = 100"), ("b", "y")))
    assert str(text) == "x = 100"


def test_restore_removes_duplicate_ids_and_sets_metadata() -> None:
    doc = live(nb(("a", "1"), ("a", "2"), ("b", "3")))
    target = nb(("a", "1"), ("b", "3"))
    target["metadata"] = {"other": True}
    restore(doc, target)
    assert content(doc) == normalize(target)


def test_concurrent_typing_merges_with_the_restore() -> None:
    server = live(nb(("a", "hello"), ("b", "old")))
    client: Doc = Doc()
    client.apply_update(server.get_update())
    # The client types in a cell while the server restores (neither has seen the other).
    ytext: Text = YNotebook(client).ycells[0]["source"]
    ytext.insert(len("hello"), " world")
    restore(server, nb(("a", "hello"), ("b", "new")))
    server.apply_update(client.get_update(server.get_state()))
    client.apply_update(server.get_update(client.get_state()))
    assert content(server) == content(client)
    assert [c["source"] for c in content(server)["cells"]] == ["hello world", "new"]


def test_retention_runs_on_its_own_connection(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = open_database(path)
    store = VersionStore(db)
    old = datetime.now(UTC) - timedelta(days=30)
    for minute in range(5):  # five automatic versions within one old day: one is kept
        created = (old + timedelta(minutes=minute)).isoformat()
        store.add("f", nb(("a", str(minute))), "auto", created=created)
    store.add("f", nb(("a", "now")), "save")
    assert apply_retention(path, RetentionPolicy()) == 4
    assert [v.kind for v in store.list("f").versions] == ["save", "auto"]


def test_a_restore_neither_brings_back_nor_drops_comment_threads() -> None:
    old = nb(("a", "1"))
    old["metadata"] = {"collab": {"comments": {"threads": ["old"]}, "other": 1}, "k": 2}
    # Into the live room (which never holds comments): none come back, the rest does.
    doc = live(nb(("a", "2")))
    restore(doc, keep_comments(old, YNotebook(doc).get()))
    assert content(doc)["metadata"] == {"collab": {"other": 1}, "k": 2}
    # Into a file: the file's current threads stay.
    file_now = nb(("a", "2"))
    file_now["metadata"] = {"collab": {"comments": {"threads": ["new"]}}}
    kept = keep_comments(old, file_now)
    assert kept["metadata"] == {"collab": {"comments": {"threads": ["new"]}, "other": 1}, "k": 2}
    assert old["metadata"]["collab"]["comments"] == {"threads": ["old"]}  # not mutated
    assert keep_comments(nb(("a", "1")), nb(("a", "1")))["metadata"] == {"title": "t"}
