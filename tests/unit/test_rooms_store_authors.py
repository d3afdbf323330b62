"""The update store records who wrote each update, across compaction and old databases."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from collab_server.core import db as database
from collab_server.rooms.store import UpdateStore


def test_authors_survive_compaction(tmp_path: Path) -> None:
    store = UpdateStore(database.open_database(tmp_path / "collab.sqlite"))
    before = time.time() - 1
    store.append("r", [b"\x01", b"\x02", b"\x03"], ["ann", None, "kernel"])
    store.append("r", [b"\x04"], ["ann"])
    assert store.authors_since("r", before) == {"ann": 2, "kernel": 1}
    store.compact("r", b"snapshot")
    assert store.load("r").updates == []
    assert store.authors_since("r", before) == {"ann": 2, "kernel": 1}
    store.append("r", [b"\x05"], ["bob"])
    later = time.time() + 60
    assert store.authors_since("r", later) == {}
    store.compact("r", b"snapshot2")
    assert store.authors_since("r", before) == {"ann": 2, "kernel": 1, "bob": 1}
    store.forget("r")
    assert store.authors_since("r", before) == {}


def test_a_database_made_before_authors_opens_and_records_them(tmp_path: Path) -> None:
    path = tmp_path / "collab.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE documents (room_id TEXT PRIMARY KEY, lineage TEXT NOT NULL,
            snapshot BLOB, saved_hash TEXT, saved_content BLOB);
        CREATE TABLE updates (room_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (room_id, seq)) WITHOUT ROWID;
        INSERT INTO documents (room_id, lineage) VALUES ('r', 'L');
        INSERT INTO updates VALUES ('r', 0, x'01');
        """
    )
    conn.commit()
    conn.close()
    store = UpdateStore(database.open_database(path))
    assert store.load("r").updates == [b"\x01"]
    store.append("r", [b"\x02"], ["ann"])
    assert store.load("r").updates == [b"\x01", b"\x02"]
    assert store.authors_since("r", 0) == {"ann": 1}
    store.compact("r", b"snap")  # the old row has no author: nothing to fold, nothing lost
    assert store.authors_since("r", 0) == {"ann": 1}
