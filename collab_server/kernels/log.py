"""The execution log: one row per cell run (or cell dropped from a queue), in SQLite.

This module owns the ``executions`` table of the server database: notebook file id and path,
cell id, sha256 of the source that ran, who asked, kernel id, when it was queued / started /
ended (ISO-8601 UTC), status ``ok|error|aborted``, ``ename`` and execution count. Cells that
left the queue without running (an earlier cell of the batch failed, interrupt, restart) are
logged ``aborted`` with no start. It feeds notebook health, and
``GET /api/collab/executions?path=…``.

The connection runs with ``isolation_level=None``: writes are one ``core.db.transaction``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlite_utils

from ..core.db import transaction

Status = Literal["ok", "error", "aborted"]

TABLE = "executions"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY,
    file_id TEXT NOT NULL,
    path TEXT NOT NULL,
    cell_id TEXT NOT NULL,
    source_sha256 TEXT,
    who TEXT NOT NULL,
    kernel_id TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'aborted')),
    ename TEXT,
    execution_count INTEGER,
    spool_key TEXT
);
CREATE INDEX IF NOT EXISTS {TABLE}_by_file ON {TABLE} (file_id, id);
CREATE INDEX IF NOT EXISTS {TABLE}_by_end ON {TABLE} (ended_at);
"""


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, millisecond precision (sorts as text)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class ExecutionRecord:
    """One cell run, as logged. Times are ISO-8601 UTC strings (see :func:`iso`)."""

    file_id: str
    path: str
    cell_id: str
    source_sha256: str | None
    who: str
    kernel_id: str
    queued_at: str
    started_at: str | None
    ended_at: str
    status: Status
    ename: str | None = None
    execution_count: int | None = None
    #: Key of the full stream text in the spool, when the document kept only head and tail.
    spool_key: str | None = None


class ExecutionLog:
    """The ``executions`` table of the server database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.conn = db.conn
        self.conn.executescript(_SCHEMA)

    def add(self, records: Iterable[ExecutionRecord]) -> int:
        """Append records in one transaction; returns how many."""
        rows = [asdict(record) for record in records]
        if not rows:
            return 0
        columns = list(rows[0])
        sql = (
            f"INSERT INTO {TABLE} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + name for name in columns)})"
        )
        with transaction(self.conn):
            self.conn.executemany(sql, rows)
        return len(rows)

    def for_notebook(
        self, file_id: str, limit: int = 100, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """The newest runs of a notebook first, ``limit`` per page.

        Returns the rows (each with its ``id``) and the cursor for the next page (pass it as
        ``before``), or ``None`` on the last page."""
        limit = max(1, min(limit, 1000))
        params: list[Any] = [file_id]
        where = "file_id = ?"
        if before is not None:
            where += " AND id < ?"
            params.append(before)
        rows = self._rows(
            f"SELECT * FROM {TABLE} WHERE {where} ORDER BY id DESC LIMIT ?",
            [*params, limit + 1],
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1]["id"] if more else None)

    def latest_for_cell(self, file_id: str, cell_id: str) -> dict[str, Any] | None:
        """The newest run of one cell that started (``None`` if it never ran)."""
        rows = self._rows(
            f"SELECT * FROM {TABLE} WHERE file_id = ? AND cell_id = ? AND started_at IS NOT NULL "
            "ORDER BY id DESC LIMIT 1",
            [file_id, cell_id],
        )
        return rows[0] if rows else None

    def since(self, moment: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        """Runs that ended at or after ``moment``, oldest first."""
        return self._rows(
            f"SELECT * FROM {TABLE} WHERE ended_at >= ? ORDER BY ended_at, id LIMIT ?",
            [iso(moment), max(1, limit)],
        )

    def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
