"""What the open path and the hot path rely on: a first load stored in one write, the saved
copy decoded only on demand, and observer events dispatched only to their implementers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from collab_server.core import db as database
from collab_server.rooms.events import Observers, PersistedBatch, RoomObserver
from collab_server.rooms.store import UpdateStore, decode_saved


def test_a_first_load_stores_snapshot_and_saved_copy_together(tmp_path: Path) -> None:
    store = UpdateStore(database.open_database(tmp_path / "collab.sqlite"))
    lineage = store.lineage("r")
    content = {"cells": [{"source": "x = 1"}], "metadata": {}}
    store.first_load("r", b"snapshot", "hash-1", content)
    stored = store.load("r")
    assert stored.lineage == lineage and stored.snapshot == b"snapshot"
    assert stored.updates == [] and not stored.empty
    assert stored.saved_hash == "hash-1"
    # Kept compressed; decoded on first use, once.
    assert stored.saved_blob is not None and decode_saved(stored.saved_blob) == content
    assert stored.saved_content == content and stored.saved_content is stored.saved_content
    assert store.snapshot_bytes("r") == len(b"snapshot")
    store.append("r", [b"\x01"], ["ann"])
    assert [bytes(u) for u in store.load("r").updates] == [b"\x01"]


def test_no_saved_copy_decodes_to_none() -> None:
    assert decode_saved(None) is None


class OnlyJoins(RoomObserver):
    def __init__(self) -> None:
        self.joins: list[Any] = []

    def joined(self, room: Any, conn: Any) -> None:
        self.joins.append(conn)


class Failing(RoomObserver):
    def persisted(self, room: Any, batch: PersistedBatch) -> None:
        raise RuntimeError("an observer's bug")

    def keep_open(self, room: Any) -> bool:
        raise RuntimeError("an observer's bug")


def test_events_reach_only_their_implementers_and_failures_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    observers = Observers(logging.getLogger("test.observers"))
    joins = OnlyJoins()
    observers.add(joins)
    batch = PersistedBatch(frozenset({"ann"}), 1, True)
    observers.persisted(None, batch)  # type: ignore[arg-type]  # nobody listens: no call
    observers.joined(None, "conn")  # type: ignore[arg-type]
    assert joins.joins == ["conn"]
    assert observers.keep_open(None) is False  # type: ignore[arg-type]
    observers.add(Failing())
    with caplog.at_level(logging.ERROR):
        observers.persisted(None, batch)  # type: ignore[arg-type]
        assert observers.keep_open(None) is False  # type: ignore[arg-type]
    failures = [r.getMessage() for r in caplog.records]
    assert failures == [
        "Room observer Failing failed on persisted",
        "Room observer Failing failed on keep_open",
    ]
