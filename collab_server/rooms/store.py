"""The update store: a snapshot plus a bounded log of updates per document, in SQLite.

What this module promises:

* ``append`` writes a batch of updates in **one** transaction and returns only after the
  commit, so the room can broadcast them knowing a crash cannot lose them.
* ``compact`` replaces snapshot + log with a new snapshot taken from the live document in
  one transaction. The live document holds exactly what was appended (the room applies an
  update before it appends it, on the same thread), so compaction is lossless by
  construction; tests check the state is identical before and after. We compact by
  *applying* updates to a document and encoding it, never with ``merge_updates`` (which is
  quadratic and is where the reference store lost data).
* Each document has a *lineage*: a random id created with its first snapshot and returned
  as the ``sessionId`` of the collaboration session. A client whose CRDT state comes from
  another lineage (the store was reset) must not merge it into ours, or cells duplicate.
* A write that fails raises: :class:`StoreBusy` when another process holds the database
  lock (worth retrying soon), :class:`StoreUnavailable` for anything else (disk full,
  read-only file). Nothing is half-written either way (one transaction).
* Rows that cannot be applied any more are moved to the ``quarantine`` table by
  :meth:`UpdateStore.quarantine`, for an operator to inspect.
* Every logged update records its **author** (a client's verified user id, or ``server``,
  ``kernel``, ``restore``, ``disk``; none for the room's own bookkeeping) and when it was
  stored. Compaction folds the authors of the updates it replaces into the ``update_authors``
  table (per author: how many updates, the last time), in the same transaction, so
  :meth:`UpdateStore.authors_since` answers "who edited since time T" across compactions.
* Sequence numbers and log sizes are kept in memory by the store alone (nobody else sees
  them); a store shared by several processes keeps them in the database instead.
* The last content saved to disk (its hash and a compressed copy) is kept as the base of
  three-way merges with changes made to the file outside the server.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ..core.db import transaction
from .errors import StoreBusy, StoreUnavailable

__all__ = ["LogSize", "StoreBusy", "StoreUnavailable", "StoredDocument", "UpdateStore"]


# A room that failed to store reopens only when the disk has room for more than a batch.
_MIN_FREE_BYTES = 1024 * 1024


def _compress(content: Any) -> bytes:
    # Level 1: a 5 MB notebook compresses in milliseconds, and outputs compress well anyway.
    return zlib.compress(json.dumps(content).encode("utf-8"), 1)


def _write_error(error: sqlite3.Error) -> StoreUnavailable:
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return StoreBusy(str(error))
    return StoreUnavailable(str(error))


@dataclass
class StoredDocument:
    lineage: str
    snapshot: bytes | None
    updates: list[bytes]
    saved_hash: str | None
    saved_blob: bytes | None  # the last saved content, compressed (see ``saved_content``)

    @property
    def empty(self) -> bool:
        return self.snapshot is None and not self.updates

    @functools.cached_property
    def saved_content(self) -> Any | None:
        """The JSON-able content last written to (or read from) disk. Decoded on first use:
        a room reopened on an unchanged file needs it only when it saves or merges, and for
        a large notebook decoding costs as much as reading the file."""
        return decode_saved(self.saved_blob)


def decode_saved(blob: bytes | None) -> Any | None:
    """The saved content from its stored (compressed) form."""
    return json.loads(zlib.decompress(blob)) if blob else None


@dataclass
class LogSize:
    """How big a document's update log is, to decide when to compact."""

    count: int = 0
    bytes: int = 0
    snapshot_bytes: int = 0


class UpdateStore:
    """All documents' snapshots and update logs, in the ``documents`` and ``updates`` tables."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        self._conn = db.conn
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS documents (
                room_id TEXT PRIMARY KEY,
                lineage TEXT NOT NULL,
                snapshot BLOB,
                saved_hash TEXT,
                saved_content BLOB
            );
            CREATE TABLE IF NOT EXISTS updates (
                room_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                data BLOB NOT NULL,
                author TEXT,
                at REAL,
                PRIMARY KEY (room_id, seq)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS update_authors (
                room_id TEXT NOT NULL,
                author TEXT NOT NULL,
                updates INTEGER NOT NULL,
                last_at REAL NOT NULL,
                PRIMARY KEY (room_id, author)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS quarantine (
                id INTEGER PRIMARY KEY,
                room_id TEXT NOT NULL,
                lineage TEXT,
                kind TEXT NOT NULL,
                seq INTEGER,
                data BLOB,
                reason TEXT NOT NULL,
                at REAL NOT NULL
            );
            """
        )
        # Databases made before authors were recorded: add the (nullable) columns.
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(updates)")}
        for column, sql_type in (("author", "TEXT"), ("at", "REAL")):
            if column not in columns:
                self._conn.execute(f"ALTER TABLE updates ADD COLUMN {column} {sql_type}")
        self._next_seq: dict[str, int] = {}
        self.sizes: dict[str, LogSize] = {}

    # -- reading -------------------------------------------------------------------------

    def lineage(self, room_id: str) -> str:
        """The lineage (session id) of a document, created on first use."""
        row = self._conn.execute(
            "SELECT lineage FROM documents WHERE room_id = ?", [room_id]
        ).fetchone()
        if row:
            return str(row[0])
        lineage = str(uuid.uuid4())
        try:
            self._conn.execute(
                "INSERT OR IGNORE INTO documents (room_id, lineage) VALUES (?, ?)",
                [room_id, lineage],
            )
        except sqlite3.Error as e:
            raise _write_error(e) from e
        return self.lineage(room_id)

    def load(self, room_id: str) -> StoredDocument:
        lineage = self.lineage(room_id)
        snapshot, saved_hash, saved_blob = self._conn.execute(
            "SELECT snapshot, saved_hash, saved_content FROM documents WHERE room_id = ?",
            [room_id],
        ).fetchone()
        rows = self._conn.execute(
            "SELECT seq, data FROM updates WHERE room_id = ? ORDER BY seq", [room_id]
        ).fetchall()
        updates = [bytes(r[1]) for r in rows]
        self._next_seq[room_id] = (rows[-1][0] + 1) if rows else 0
        self.sizes[room_id] = LogSize(
            count=len(updates),
            bytes=sum(len(u) for u in updates),
            snapshot_bytes=len(snapshot) if snapshot else 0,
        )
        return StoredDocument(
            lineage=lineage,
            snapshot=bytes(snapshot) if snapshot is not None else None,
            updates=updates,
            saved_hash=saved_hash,
            saved_blob=bytes(saved_blob) if saved_blob else None,
        )

    def authors_since(self, room_id: str, since: float) -> dict[str, int]:
        """Who stored updates of a document after ``since`` (a ``time.time()``), with how
        many. Compacted updates count with their author's last time: an author who edited
        after ``since`` is always found (their count may include older updates)."""
        found: dict[str, int] = {}
        for author, count in self._conn.execute(
            "SELECT author, updates FROM update_authors WHERE room_id = ? AND last_at > ?"
            " UNION ALL SELECT author, COUNT(*) FROM updates"
            " WHERE room_id = ? AND author IS NOT NULL AND at > ? GROUP BY author",
            [room_id, since, room_id, since],
        ):
            found[author] = found.get(author, 0) + int(count)
        return found

    # -- writing -------------------------------------------------------------------------

    def append(
        self, room_id: str, updates: list[bytes], authors: list[str | None] | None = None
    ) -> None:
        """Durably append updates (one transaction, committed when this returns);
        ``authors[i]`` wrote ``updates[i]``."""
        if not updates:
            return
        seq = self._next_seq.get(room_id)
        if seq is None:
            row = self._conn.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM updates WHERE room_id = ?", [room_id]
            ).fetchone()
            seq = int(row[0])
        now = time.time()
        who = authors if authors is not None else [None] * len(updates)
        rows = [
            (room_id, seq + i, u, a, now) for i, (u, a) in enumerate(zip(updates, who, strict=True))
        ]
        with self._writing() as conn:
            conn.executemany(
                "INSERT INTO updates (room_id, seq, data, author, at) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        self._next_seq[room_id] = seq + len(updates)
        size = self.sizes.setdefault(room_id, LogSize())
        size.count += len(updates)
        size.bytes += sum(len(u) for u in updates)

    def compact(self, room_id: str, snapshot: bytes) -> None:
        """Replace the log with ``snapshot``, the full state of the live document."""
        with self._writing() as conn:
            conn.execute("UPDATE documents SET snapshot = ? WHERE room_id = ?", [snapshot, room_id])
            # Keep who edited: the log's authors fold into the per-author table.
            conn.execute(
                "INSERT INTO update_authors (room_id, author, updates, last_at)"
                " SELECT room_id, author, COUNT(*), MAX(COALESCE(at, 0)) FROM updates"
                " WHERE room_id = ? AND author IS NOT NULL GROUP BY author"
                " ON CONFLICT (room_id, author) DO UPDATE SET"
                " updates = updates + excluded.updates,"
                " last_at = MAX(last_at, excluded.last_at)",
                [room_id],
            )
            conn.execute("DELETE FROM updates WHERE room_id = ?", [room_id])
        # Return the log's pages to the file system. (Through execute() the pragma frees a
        # single page; executescript() steps it to the end.)
        self._conn.executescript("PRAGMA incremental_vacuum;")
        self._next_seq[room_id] = 0
        self.sizes[room_id] = LogSize(snapshot_bytes=len(snapshot))

    def first_load(
        self, room_id: str, snapshot: bytes, content_hash: str | None, content: Any
    ) -> None:
        """Store a document loaded from its file for the first time: ``snapshot`` (the whole
        document) and the file's content as last saved, in one transaction that writes the
        row once (``compact`` then ``mark_saved`` would rewrite the snapshot's pages twice)."""
        blob = _compress(content)
        with self._writing() as conn:
            conn.execute(
                "UPDATE documents SET snapshot = ?, saved_hash = ?, saved_content = ?"
                " WHERE room_id = ?",
                [snapshot, content_hash, blob, room_id],
            )
            conn.execute("DELETE FROM updates WHERE room_id = ?", [room_id])
        self._next_seq[room_id] = 0
        self.sizes[room_id] = LogSize(snapshot_bytes=len(snapshot))

    def snapshot_bytes(self, room_id: str) -> int:
        size = self.sizes.get(room_id)
        return size.snapshot_bytes if size is not None else 0

    def needs_compaction(self, room_id: str, max_updates: int, min_bytes: int) -> bool:
        """True when the log is long, or larger than the snapshot (and than ``min_bytes``)."""
        size = self.sizes.get(room_id)
        if size is None or size.count == 0:
            return False
        return size.count >= max_updates or size.bytes > max(size.snapshot_bytes, min_bytes)

    def mark_saved(self, room_id: str, content_hash: str | None, content: Any) -> None:
        blob = _compress(content)
        self._conn.execute(
            "UPDATE documents SET saved_hash = ?, saved_content = ? WHERE room_id = ?",
            [content_hash, blob, room_id],
        )

    def check_writable(self) -> None:
        """Raise :class:`StoreUnavailable` if a write cannot be made now.

        The probe commits a real write of a few pages (a rolled-back transaction never reaches
        the disk in WAL mode, so it would pass on a full disk), and the file system must have
        room for more than one batch."""
        with self._writing() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS store_probe (x BLOB)")
            conn.execute("INSERT INTO store_probe VALUES (zeroblob(65536))")
            conn.execute("DELETE FROM store_probe")
        free = self._free_bytes()
        if free is not None and free < _MIN_FREE_BYTES:
            raise StoreUnavailable(f"only {free // 1024} KiB free on the database's disk")

    def _free_bytes(self) -> int | None:
        row = self._conn.execute("PRAGMA database_list").fetchone()
        path = row[2] if row else ""
        if not path:
            return None  # an in-memory database
        try:
            stats = os.statvfs(os.path.dirname(path))
        except OSError:
            return None
        return stats.f_bavail * stats.f_frsize

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``core.db.transaction``); SQLite's errors become
        :class:`StoreBusy` (a lock held elsewhere) or :class:`StoreUnavailable`."""
        try:
            with transaction(self._conn) as conn:
                yield conn
        except sqlite3.Error as e:
            raise _write_error(e) from e

    def quarantine(self, room_id: str, reason: str) -> list[str]:
        """Move a document's snapshot and logged updates to the quarantine table, and forget
        the document (a new lineage starts with the next load). Returns the moved rows'
        labels (``snapshot``, ``update <seq>``) for the log."""
        now = time.time()
        moved: list[str] = []
        with self._writing() as conn:
            row = conn.execute(
                "SELECT lineage, snapshot FROM documents WHERE room_id = ?", [room_id]
            ).fetchone()
            lineage = row[0] if row else None
            if row and row[1] is not None:
                conn.execute(
                    "INSERT INTO quarantine (room_id, lineage, kind, seq, data, reason, at)"
                    " VALUES (?, ?, 'snapshot', NULL, ?, ?, ?)",
                    [room_id, lineage, row[1], reason, now],
                )
                moved.append("snapshot")
            for seq, data in conn.execute(
                "SELECT seq, data FROM updates WHERE room_id = ? ORDER BY seq", [room_id]
            ).fetchall():
                conn.execute(
                    "INSERT INTO quarantine (room_id, lineage, kind, seq, data, reason, at)"
                    " VALUES (?, ?, 'update', ?, ?, ?, ?)",
                    [room_id, lineage, seq, data, reason, now],
                )
                moved.append(f"update {seq}")
            conn.execute("DELETE FROM updates WHERE room_id = ?", [room_id])
            conn.execute("DELETE FROM documents WHERE room_id = ?", [room_id])
        self._next_seq.pop(room_id, None)
        self.sizes.pop(room_id, None)
        return moved

    def forget(self, room_id: str) -> None:
        with self._writing() as conn:
            conn.execute("DELETE FROM updates WHERE room_id = ?", [room_id])
            conn.execute("DELETE FROM update_authors WHERE room_id = ?", [room_id])
            conn.execute("DELETE FROM documents WHERE room_id = ?", [room_id])
        self._next_seq.pop(room_id, None)
        self.sizes.pop(room_id, None)
