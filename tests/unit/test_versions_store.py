"""The version store: content addressing, cell-level dedupe, head rule, listing, retention."""

from __future__ import annotations

import copy
import itertools
import random
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from collab_server.core.db import open_database
from collab_server.versions.blobs import SQLiteBlobs
from collab_server.versions.canonical import canonical_json, content_id
from collab_server.versions.retention import RetentionPolicy
from collab_server.versions.store import VersionNotFound, VersionStore

ANN = {"id": "u-ann", "name": "Ann"}
BOB = {"id": "u-bob", "name": "Bob"}


def notebook(cells: int = 3, seed: int = 0, lines: int = 35) -> dict:
    rng = random.Random(seed)
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [
            {
                "id": f"c{i}",
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                # ~30 bytes a line, that does not compress to nothing
                "source": "".join(f"v{i}_{k} = {rng.random()!r}\n" for k in range(lines)),
            }
            for i in range(cells)
        ],
    }


def memory_database() -> sqlite_utils.Database:
    """The server's connection settings, in memory: the store's logic and SQL are the same,
    without a file's commit cost (hundreds of versions are cut per test)."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys=ON")
    return sqlite_utils.Database(conn)


@pytest.fixture
def store() -> VersionStore:
    return VersionStore(memory_database())


def test_add_get_round_trip_and_content_address(store):
    nb = notebook()
    nb["cells"][0]["source"] = nb["cells"][0]["source"].splitlines(True)  # as on disk
    v = store.add("f1", nb, "save", [ANN, ANN, BOB])
    assert v.id == content_id(nb)
    assert v.number == 1 and v.parent is None and v.kind == "save" and v.label is None
    assert [a.id for a in v.authors] == ["u-ann", "u-bob"]  # deduplicated, in order
    assert v.size == len(canonical_json(nb))
    assert v.created.endswith("Z")
    back = store.get("f1", v.id)
    assert canonical_json(back) == canonical_json(nb)
    assert content_id(back) == v.id
    assert v.to_json()["authors"] == [ANN, BOB]


def test_content_equal_to_the_head_cuts_no_version(store):
    nb = notebook()
    first = store.add("f1", nb, "auto", [ANN])
    again = store.add("f1", copy.deepcopy(nb), "save", [BOB])
    assert again == first
    assert store.size("f1").versions == 1
    nb["cells"][1]["source"] += "y = 2\n"
    second = store.add("f1", nb, "save", [BOB])
    assert second.number == 2 and second.parent == first.id
    assert store.head("f1") == second


def test_publish_of_the_head_pins_it_and_a_label_names_it(store):
    nb = notebook()
    v = store.add("f1", nb, "auto")
    pinned = store.add("f1", nb, "publish")
    assert pinned.number == v.number and pinned.pinned and pinned.kind == "auto"
    named = store.add("f1", nb, "save", label="Draft 1")
    assert named.number == v.number and named.label == "Draft 1"
    # A second, different name for the same content is a new entry (the first name stays).
    renamed = store.add("f1", nb, "save", label="Final")
    assert renamed.number == 2 and renamed.id == v.id and renamed.label == "Final"
    assert store.list("f1").versions[1].label == "Draft 1"


def test_same_content_later_is_a_new_row_sharing_the_bytes(store):
    a = notebook()
    b = copy.deepcopy(a)
    b["cells"][0]["source"] = "changed\n"
    va = store.add("f1", a, "save", [ANN])
    store.add("f1", b, "auto", [BOB])
    blobs = store.size().blobs
    restored = store.add("f1", a, "restore", [ANN])
    assert restored.id == va.id and restored.number == 3 and restored.kind == "restore"
    assert store.size().blobs == blobs  # no new bytes
    assert store.find("f1", va.id).number == 3  # by id: the newest row with that content
    labelled = store.label("f1", va.id, "Back to start")
    assert labelled.number == 3 and labelled.label == "Back to start"
    assert store.get("f1", va.id) == store.get("f1", restored.id)


def test_files_are_separate(store):
    nb = notebook()
    v = store.add("f1", nb, "save")
    store.add("f2", nb, "save")
    assert store.size("f1").versions == 1
    with pytest.raises(VersionNotFound):
        store.get("f3", v.id)
    with pytest.raises(VersionNotFound):
        store.label("f3", v.id, "x")
    with pytest.raises(VersionNotFound):
        store.get("f1", "0" * 64)
    with pytest.raises(ValueError, match="unknown version kind"):
        store.add("f1", nb, "whenever")


def test_listing_is_newest_first_with_paging(store):
    nb = notebook(1)
    for k in range(7):
        nb["cells"][0]["source"] = f"step {k}\n"
        store.add("f1", nb, "auto")
    page = store.list("f1", limit=3)
    assert [v.number for v in page.versions] == [7, 6, 5]
    assert page.next_before == 5
    page = store.list("f1", limit=3, before=page.next_before)
    assert [v.number for v in page.versions] == [4, 3, 2]
    page = store.list("f1", limit=3, before=page.next_before)
    assert [v.number for v in page.versions] == [1] and page.next_before is None
    assert store.list("f1", limit=7).next_before is None
    assert store.list("nobody").versions == []
    assert [v.parent for v in store.list("f1", limit=2).versions] == [
        store.list("f1", limit=2).versions[1].id,
        store.list("f1", limit=3).versions[2].id,
    ]


def test_small_edits_cost_about_the_edits(store):
    """150 versions of a 100-cell notebook, each a one-character edit of one cell."""
    rng = random.Random(7)
    edits = 149
    nb = notebook(100, lines=8)  # ~250 bytes of source a cell
    one_copy = len(canonical_json(nb))
    store.add("f1", nb, "auto", [ANN])
    start = store.size("f1")
    changed_cells_bytes = 0
    for k in range(edits):
        cell = nb["cells"][rng.randrange(100)]
        cell["source"] += "abcdefghij"[k % 10]
        changed_cells_bytes += len(canonical_json({"cells": [cell]}))
        store.add("f1", nb, "auto", [ANN])
    end = store.size("f1")
    assert end.versions == edits + 1
    assert end.blobs == start.blobs + edits  # one new cell blob per version, skeleton shared
    grown = (end.stored_bytes + end.index_bytes) - (start.stored_bytes + start.index_bytes)
    # Per version: the changed cell compressed plus its cell list (delta-encoded, compressed:
    # 10-250 bytes as the ids scatter). About the size of the changes, where full copies would
    # cost the whole notebook every time.
    assert grown < 2 * changed_cells_bytes
    assert grown < edits * 600
    assert grown < one_copy * edits / 50
    assert content_id(store.get("f1", store.head("f1").id)) == store.head("f1").id


def test_forget_drops_versions_and_unshared_blobs(store):
    a = notebook(2)
    b = copy.deepcopy(a)
    b["cells"][1]["source"] = "only in f2\n"
    store.add("f1", a, "save")
    store.add("f2", b, "save")
    shared = store.size().blobs
    store.forget("f2")
    assert store.size("f2").versions == 0
    assert store.size().blobs == shared - 1  # f2's own cell went; the shared ones stayed
    assert content_id(store.get("f1", content_id(a))) == content_id(a)
    store.forget("f1")
    assert store.size().blobs == 0 and store.backend.stored_bytes() == 0


def test_retention_thins_the_store_and_keeps_named_published_restore(store):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    nb = notebook(1)

    def cut(age: timedelta, kind: str = "auto", label: str | None = None, who=ANN):
        nb["cells"][0]["source"] = f"at {age}\n"
        created = (now - age).isoformat()
        return store.add("f1", nb, kind, [who], label=label, created=created)

    # Ten days of history, newest last: every 20 minutes for 10 days (720 versions).
    steps = [timedelta(minutes=20 * k) for k in range(720, 0, -1)]
    special: dict[int, str] = {}
    for age in steps:
        if age == timedelta(days=9, minutes=20):
            special[cut(age, label="Milestone").number] = "labelled"
        elif age == timedelta(days=8, minutes=40):
            special[cut(age, kind="publish").number] = "published"
        elif age == timedelta(days=3, minutes=20):
            special[cut(age, kind="restore").number] = "restore"
        elif age == timedelta(days=2, minutes=40):
            special[cut(age, who=BOB).number] = "bob's"
        else:
            cut(age)
    before = store.size()
    dropped = store.apply_retention("f1", RetentionPolicy(), now=now)
    after = store.size()
    assert after.versions == before.versions - len(dropped)
    assert after.blobs < before.blobs and after.stored_bytes < before.stored_bytes
    kept = {v.number: v for v in store.list("f1", limit=1000).versions}
    for number, why in special.items():
        if why != "bob's":
            assert number in kept, why
    # The last day is kept whole (ages 20 min … 23 h 40 min: 71 versions), and the head.
    young = [v for v in kept.values() if now - datetime.fromisoformat(v.created) < timedelta(1)]
    assert len(young) == 71
    assert store.head("f1").number == 720
    # Bob's version (09:20 of its day) lost its hour to the 09:40 one, which now credits him.
    bobs = next(n for n, w in special.items() if w == "bob's")
    assert bobs not in kept
    heir = kept[min(n for n in kept if n > bobs)]
    assert [a.id for a in heir.authors] == ["u-ann", "u-bob"]
    # Every kept version's parent is the version kept before it, and each reads back.
    numbers = sorted(kept)
    for older, newer in itertools.pairwise(numbers):
        assert kept[newer].parent == kept[older].id
    for v in kept.values():
        assert content_id(store.get("f1", v.id)) == v.id
    # Between a day and a week old (created Feb 22 12:20 … Feb 28 12:00): the newest of each
    # hour, 6 x 24 + 1 hours; older (Feb 19 12:00 … Feb 22 12:00): the newest of each day, 4
    # days; plus the last day's 71 and the labelled, published and restore versions.
    assert len(kept) == 71 + (6 * 24 + 1) + 4 + 3


class FullDisk(SQLiteBlobs):
    """A back end (the Protocol's other side) whose writes fail, like a full disk or S3 down."""

    def put_many(self, items):
        raise OSError("no space left")


def test_a_failed_write_records_nothing(tmp_path):
    db = open_database(tmp_path / "db.sqlite")
    store = VersionStore(db, backend=FullDisk(db))
    nb = notebook(2)
    with pytest.raises(OSError):
        store.add("f1", nb, "save", [ANN])
    assert store.head("f1") is None
    assert store.size() == VersionStore(db).size()  # no blob rows, no version rows
    assert store.size().blobs == 0
    # The connection is not left inside a transaction: the next writer works.
    assert VersionStore(db).add("f1", nb, "save").number == 1


class ObjectStore:
    """A non-transactional back end, as S3 would be: a dict of objects under content keys."""

    transactional = False

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_many(self, items):
        self.objects.update(items)

    def get_many(self, keys):
        return {k: self.objects[k] for k in keys}

    def delete(self, keys):
        for key in keys:
            self.objects.pop(key, None)


def test_an_object_store_back_end_behind_the_same_protocol(tmp_path):
    objects = ObjectStore()
    store = VersionStore(open_database(tmp_path / "db.sqlite"), backend=objects)
    a = notebook(3)
    b = copy.deepcopy(a)
    b["cells"][0]["source"] = "x\n"
    store.add("f1", a, "auto", created="2026-01-01T00:00:00+00:00")
    store.add("f1", b, "auto", created="2026-01-01T00:10:00+00:00")
    store.add("f1", a, "auto")
    assert len(objects.objects) == 5  # skeleton + 3 cells + the edited cell
    assert content_id(store.get("f1", content_id(b))) == content_id(b)
    dropped = store.apply_retention("f1", RetentionPolicy(), now=datetime(2026, 1, 3, tzinfo=UTC))
    assert dropped == [1]  # same hour as version 2; version 3 is the head
    assert len(objects.objects) == 5  # version 1's content is still version 3's
    store.forget("f1")
    assert objects.objects == {}
