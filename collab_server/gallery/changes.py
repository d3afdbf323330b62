"""Change requests: "I can read this notebook but not edit it — here is my change."

nbgallery's answer to read-only notebooks, on our versions. This module owns the table
``gallery_change_requests`` (its own schema version, concern ``gallery_change_requests``) and
the life of a request: ``open`` → ``accepted`` | ``declined`` | ``cancelled`` (each final).
A request keeps its base and proposal as compressed canonical JSON (they must survive the
proposer's copy being edited or deleted, and version retention); it is keyed by the target's
stable file id, so it follows renames, and numbered per notebook (#1, #2, … of that
notebook: ids say nothing of other notebooks' requests). Nothing here checks rights or touches
rooms: the handlers (:mod:`.change_handlers`) do, through :class:`NotebookEditor`.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlite_utils

from ..core import db as core_db
from ..core.errors import Conflict, NotFound
from ..core.time import now_iso
from ..versions import canonical

STATUSES = ("open", "accepted", "declined", "cancelled")
MAX_MESSAGE = 5000
MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024  # canonical JSON of a proposal, outputs stripped


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS gallery_change_requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            file_id TEXT NOT NULL,
            proposer TEXT NOT NULL,
            proposer_name TEXT NOT NULL,
            message TEXT NOT NULL,
            source TEXT NOT NULL,
            base BLOB NOT NULL,
            proposed BLOB NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            created TEXT NOT NULL,
            decided TEXT,
            decided_by TEXT,
            decided_by_name TEXT,
            comment TEXT NOT NULL DEFAULT '',
            version TEXT)"""
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS gallery_change_requests_file"
        " ON gallery_change_requests (file_id, status)"
    )


def _v2(conn: sqlite3.Connection) -> None:
    # Requests are numbered per notebook (#1, #2, … of this notebook): one counter for the
    # whole server told a tenant how many proposals were made on notebooks they cannot read.
    conn.execute("ALTER TABLE gallery_change_requests ADD COLUMN number INTEGER")
    conn.execute(
        "UPDATE gallery_change_requests SET number = (SELECT COUNT(*) FROM"
        " gallery_change_requests e WHERE e.file_id = gallery_change_requests.file_id"
        " AND e.id <= gallery_change_requests.id)"
    )
    conn.execute(
        "CREATE UNIQUE INDEX gallery_change_requests_number"
        " ON gallery_change_requests (file_id, number)"
    )


MIGRATIONS = [_v1, _v2]


class NotebookEditor(Protocol):
    """What change requests need of the versions (``versions.service.VersionService``)."""

    async def current(self, path: str) -> tuple[str, str, dict[str, Any]]:
        """(API path, file id, the live notebook: the open room's document, else the file)."""

    def apply_edit(
        self,
        path: str,
        make_target: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        kind: str,
        authors: list[dict[str, str]],
        label: str | None,
    ) -> Awaitable[Any]:
        """Make the live room ``make_target(live)`` as one forward edit; a version is
        recorded (returned, with an ``id``)."""

    async def version_content(self, file_id: str, version_id: str) -> dict[str, Any] | None: ...


class NotebookHistory(NotebookEditor, Protocol):
    """What the gallery asks of the versions feature: change requests apply through it, and
    a notebook's info shows its history. Each call takes a file id and reads the server's
    database, so it runs on the event loop (never on the gallery's own threads)."""

    def versions_count(self, file_id: str) -> int: ...

    def published_copies(self, file_id: str) -> list[dict[str, Any]]:
        """The notebook's published copy (its newest version), or none."""

    def cloned_from(self, file_id: str) -> dict[str, Any] | None:
        """``{"file_id", "version", "created", "published"?}`` of a clone's source."""


@dataclass(frozen=True)
class ChangeRequest:
    id: int  # its number among the notebook's change requests
    file_id: str
    proposer: str
    proposer_name: str
    message: str
    source: str  # "copy" or "draft"
    status: str
    created: str
    decided: str | None
    decided_by: str | None
    decided_by_name: str | None
    comment: str
    version: str | None

    def to_json(self, path: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": path,
            "status": self.status,
            "message": self.message,
            "source": self.source,
            "proposer": {"id": self.proposer, "name": self.proposer_name},
            "created": self.created,
            "decided": self.decided,
            "decided_by": (
                {"id": self.decided_by, "name": self.decided_by_name} if self.decided_by else None
            ),
            "comment": self.comment,
            "version": self.version,
        }


_COLUMNS = (
    "number, file_id, proposer, proposer_name, message, source, status, created, decided,"
    " decided_by, decided_by_name, comment, version"
)


def pack(nb: dict[str, Any]) -> bytes:
    return zlib.compress(canonical.canonical_json(nb), 6)


def unpack(blob: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(zlib.decompress(blob))
    return value


class ChangeRequests:
    """The change-request table on one connection (the gallery's write or read thread)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.conn = db.conn
        core_db.migrate(db, "gallery_change_requests", MIGRATIONS)

    def _row(self, row: Any) -> ChangeRequest:
        return ChangeRequest(*row)

    def create(
        self,
        file_id: str,
        proposer: dict[str, str],
        message: str,
        source: str,
        base: dict[str, Any],
        proposed: dict[str, Any],
    ) -> ChangeRequest:
        with core_db.transaction(self.conn):
            (last,) = self.conn.execute(
                "SELECT COALESCE(MAX(number), 0) FROM gallery_change_requests WHERE file_id = ?",
                [file_id],
            ).fetchone()
            number = int(last) + 1
            self.conn.execute(
                "INSERT INTO gallery_change_requests (file_id, number, proposer, proposer_name,"
                " message, source, base, proposed, created) VALUES (?,?,?,?,?,?,?,?,?)",
                [file_id, number, proposer["id"], proposer["name"], message, source, pack(base),
                 pack(proposed), now_iso()],
            )  # fmt: skip
        found = self.get(file_id, number)
        assert found is not None
        return found

    def get(self, file_id: str, number: int) -> ChangeRequest | None:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM gallery_change_requests WHERE file_id = ? AND number = ?",
            [file_id, number],
        ).fetchone()
        return self._row(row) if row else None

    def contents(self, file_id: str, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(base, proposal) of a request."""
        row = self.conn.execute(
            "SELECT base, proposed FROM gallery_change_requests WHERE file_id = ? AND number = ?",
            [file_id, number],
        ).fetchone()
        if row is None:
            raise NotFound(f"No change request {number}")
        return unpack(row[0]), unpack(row[1])

    def listing(
        self, file_id: str, status: str | None, proposer: str | None, limit: int = 100
    ) -> list[ChangeRequest]:
        """Newest first; only ``proposer``'s when given; any status when ``status`` is None."""
        where, params = ["file_id = ?"], [file_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if proposer is not None:
            where.append("proposer = ?")
            params.append(proposer)
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM gallery_change_requests WHERE {' AND '.join(where)}"
            " ORDER BY number DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [self._row(r) for r in rows]

    def open_counts_at(self, paths: list[str]) -> dict[str, int]:
        """Open change requests per notebook API path (one query; paths without any are not
        in the answer)."""
        rows = self.conn.execute(
            "SELECT n.path, COUNT(*) FROM gallery_notebooks n JOIN gallery_change_requests c"
            " ON c.file_id = n.file_id AND c.status = 'open'"
            " WHERE n.path IN (SELECT value FROM json_each(?)) GROUP BY n.path",
            [json.dumps(paths)],
        ).fetchall()
        return {p: n for p, n in rows}

    def decide(
        self,
        file_id: str,
        number: int,
        status: str,
        by: dict[str, str],
        comment: str = "",
        version: str | None = None,
    ) -> ChangeRequest:
        """Move an open request to ``status``; :class:`Conflict` if it is no longer open."""
        with core_db.transaction(self.conn):
            current = self.get(file_id, number)
            if current is None:
                raise NotFound(f"No change request {number} on this notebook")
            if current.status != "open":
                raise Conflict(f"This change request was already {current.status}")
            self.conn.execute(
                "UPDATE gallery_change_requests SET status = ?, decided = ?, decided_by = ?,"
                " decided_by_name = ?, comment = ?, version = ? WHERE file_id = ? AND number = ?",
                [status, now_iso(), by["id"], by["name"], comment, version, file_id, number],
            )
        found = self.get(file_id, number)
        assert found is not None
        return found
