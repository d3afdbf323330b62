"""Stable file ids: the ``fileId`` of a room URL, kept across renames.

A file gets an id the first time a client asks for a collaboration session on it. Renames
and moves made through the contents API keep the id (the app forwards jupyter_server's
contents events here); deleting a file forgets its id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlite_utils


def normalize_path(path: str) -> str:
    """The API path of a file: POSIX, relative to the root, no leading or trailing slash."""
    return path.strip("/")


class FileIdStore:
    """Maps file ids to API paths, in the ``files`` table."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS files ("
            " id TEXT PRIMARY KEY,"
            " path TEXT NOT NULL UNIQUE,"
            " created_at TEXT NOT NULL)"
        )

    def get_id(self, path: str) -> str | None:
        row = self._db.execute(
            "SELECT id FROM files WHERE path = ?", [normalize_path(path)]
        ).fetchone()
        return row[0] if row else None

    def get_path(self, file_id: str) -> str | None:
        row = self._db.execute("SELECT path FROM files WHERE id = ?", [file_id]).fetchone()
        return row[0] if row else None

    def index(self, path: str) -> tuple[str, bool]:
        """The id of ``path``, creating one if needed; the flag says whether it is new."""
        path = normalize_path(path)
        existing = self.get_id(path)
        if existing is not None:
            return existing, False
        file_id = str(uuid.uuid4())
        now = datetime.now(UTC).isoformat()
        self._db.execute(
            "INSERT INTO files (id, path, created_at) VALUES (?, ?, ?)", [file_id, path, now]
        )
        return file_id, True

    def move(self, old_path: str, new_path: str) -> None:
        """Follow a rename or move of a file or a folder (everything below it moves too)."""
        old_path, new_path = normalize_path(old_path), normalize_path(new_path)
        conn = self._db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Whatever held the target path before is gone (overwritten by the move).
            conn.execute("DELETE FROM files WHERE path = ?", [new_path])
            conn.execute("UPDATE files SET path = ? WHERE path = ?", [new_path, old_path])
            prefix = old_path + "/"
            rows = conn.execute(
                "SELECT id, path FROM files WHERE substr(path, 1, ?) = ?", [len(prefix), prefix]
            ).fetchall()
            for file_id, path in rows:
                conn.execute(
                    "UPDATE files SET path = ? WHERE id = ?",
                    [new_path + "/" + path[len(prefix) :], file_id],
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def forget(self, path: str) -> list[str]:
        """Forget a deleted file or folder; returns the ids that were dropped."""
        path = normalize_path(path)
        prefix = path + "/"
        rows = self._db.execute(
            "SELECT id FROM files WHERE path = ? OR substr(path, 1, ?) = ?",
            [path, len(prefix), prefix],
        ).fetchall()
        ids = [r[0] for r in rows]
        for file_id in ids:
            self._db.execute("DELETE FROM files WHERE id = ?", [file_id])
        return ids
