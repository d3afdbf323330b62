"""Stable file ids: the ``fileId`` of a room URL, kept across renames.

A file gets an id the first time a client asks for a collaboration session on it. Renames
and moves made through the contents API keep the id (the app forwards jupyter_server's
contents events here); deleting a file forgets its id.

Writes come in two forms: the ``async`` ones (:meth:`FileIdStore.ensure`, :meth:`moved`,
:meth:`forgotten`) wait for a database locked by another process without blocking the event
loop (``db.write``) and raise ``db.DatabaseBusy`` (503) past the bound; the plain ones fail
after the connection's short busy timeout and are kept for callers that cannot await.

Paths are normalised and moved by ``core.paths`` (the rule grants and rooms follow too).
"""

from __future__ import annotations

import sqlite3
import uuid

import sqlite_utils

from ..core import db as database
from ..core.errors import Invalid
from ..core.paths import moved, normalize
from ..core.time import now_iso


def normalize_path(path: str) -> str:
    """The API path of a file: POSIX, relative to the root, no leading or trailing slash
    (:func:`collab_server.core.paths.normalize`); a path leaving the root is :class:`Invalid`."""
    normalized = normalize(path)
    if normalized is None:
        raise Invalid("A path may not contain '..'")
    return normalized


def _create_files(conn: sqlite3.Connection) -> None:
    # IF NOT EXISTS: databases made before schema versions already have the table.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS files ("
        " id TEXT PRIMARY KEY,"
        " path TEXT NOT NULL UNIQUE,"
        " created_at TEXT NOT NULL)"
    )


MIGRATIONS = [_create_files]


class FileIdStore:
    """Maps file ids to API paths, in the ``files`` table."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        database.migrate(db, "files", MIGRATIONS)

    def get_id(self, path: str) -> str | None:
        row = self._db.execute(
            "SELECT id FROM files WHERE path = ?", [normalize_path(path)]
        ).fetchone()
        return row[0] if row else None

    def get_path(self, file_id: str) -> str | None:
        row = self._db.execute("SELECT path FROM files WHERE id = ?", [file_id]).fetchone()
        return row[0] if row else None

    # -- writing ------------------------------------------------------------------------------

    def _insert(self, conn: sqlite3.Connection, path: str) -> tuple[str, bool]:
        row = conn.execute("SELECT id FROM files WHERE path = ?", [path]).fetchone()
        if row:
            return str(row[0]), False
        file_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO files (id, path, created_at) VALUES (?, ?, ?)",
            [file_id, path, now_iso()],
        )
        return file_id, True

    def _move(self, conn: sqlite3.Connection, old_path: str, new_path: str) -> None:
        # Whatever held the target path before is gone (overwritten by the move).
        conn.execute("DELETE FROM files WHERE path = ?", [new_path])
        prefix = old_path + "/"
        rows = conn.execute(
            "SELECT id, path FROM files WHERE path = ? OR substr(path, 1, ?) = ?",
            [old_path, len(prefix), prefix],
        ).fetchall()
        for file_id, path in rows:
            target = moved(path, old_path, new_path)
            if target is not None:
                conn.execute("UPDATE files SET path = ? WHERE id = ?", [target, file_id])

    def _forget(self, conn: sqlite3.Connection, path: str) -> list[str]:
        prefix = path + "/"
        rows = conn.execute(
            "SELECT id FROM files WHERE path = ? OR substr(path, 1, ?) = ?",
            [path, len(prefix), prefix],
        ).fetchall()
        ids = [str(r[0]) for r in rows]
        conn.executemany("DELETE FROM files WHERE id = ?", [[i] for i in ids])
        return ids

    async def ensure(self, path: str) -> tuple[str, bool]:
        """The id of ``path``, creating one if needed; the flag says whether it is new."""
        path = normalize_path(path)
        existing = self.get_id(path)  # a read: never waits for the write lock
        if existing is not None:
            return existing, False
        return await database.write(self._db, lambda conn: self._insert(conn, path))

    async def moved(self, old_path: str, new_path: str) -> None:
        """Follow a rename or move of a file or a folder (everything below it moves too)."""
        old, new = normalize_path(old_path), normalize_path(new_path)
        await database.write(self._db, lambda conn: self._move(conn, old, new))

    async def forgotten(self, path: str) -> list[str]:
        """Forget a deleted file or folder; returns the ids that were dropped."""
        path = normalize_path(path)
        return await database.write(self._db, lambda conn: self._forget(conn, path))

    # Synchronous forms, for callers that cannot await (they fail fast when locked).

    def index(self, path: str) -> tuple[str, bool]:
        path = normalize_path(path)
        existing = self.get_id(path)
        if existing is not None:
            return existing, False
        with database.transaction(self._db.conn) as conn:
            return self._insert(conn, path)

    def move(self, old_path: str, new_path: str) -> None:
        with database.transaction(self._db.conn) as conn:
            self._move(conn, normalize_path(old_path), normalize_path(new_path))

    def forget(self, path: str) -> list[str]:
        with database.transaction(self._db.conn) as conn:
            return self._forget(conn, normalize_path(path))
