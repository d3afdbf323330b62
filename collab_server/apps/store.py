"""Runs and schedules of apps, in the server's SQLite database (migrations per concern).

A run row is written when the run is accepted, when it starts and when it ends; progress
while it runs lives in memory (the service), so a cell-by-cell run costs no write per cell.
The executed notebook is kept compressed with the run (what ``…/runs/{id}/notebook`` and the
report read). A run's shares (``app_run_shares``: principal, who shared, when) live beside it.
After a crash, runs left ``queued`` or ``running`` are closed as failed at start.

A schedule keeps the token of the person who made it, encrypted with a key of this server's
data directory: the provider interface speaks only in tokens, and the schedule must run as
that person — with their rights at the time it fires, and their identity in the kernel.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import zlib
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from ..core.db import migrate, write
from ..core.time import now_iso


def _v1(conn: sqlite3.Connection) -> None:
    # One statement at a time: executescript would commit the migration's transaction.
    script = """
        CREATE TABLE app_runs (
            id TEXT PRIMARY KEY,
            app_id TEXT NOT NULL,
            app_version INTEGER NOT NULL,
            owner TEXT NOT NULL,
            parameters TEXT NOT NULL,
            status TEXT NOT NULL,
            created TEXT NOT NULL,
            started TEXT,
            ended TEXT,
            result TEXT,
            error TEXT,
            progress TEXT,
            schedule_id TEXT,
            warm INTEGER NOT NULL DEFAULT 0,
            notebook BLOB
        );
        CREATE INDEX app_runs_by_owner ON app_runs (owner, app_id, created);
        CREATE INDEX app_runs_by_schedule ON app_runs (schedule_id, created);
        CREATE TABLE app_schedules (
            id TEXT PRIMARY KEY,
            app_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            token BLOB NOT NULL,
            cron TEXT NOT NULL,
            parameters TEXT NOT NULL,
            created TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            stopped TEXT,
            last_fired TEXT
        );
        CREATE INDEX app_schedules_by_app ON app_schedules (app_id);
        """
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    # Who a run is shared with (apps/sharing.py): looked up by run, and by principal for
    # "runs shared with me". A run's shares go with it (pruned together).
    conn.execute(
        """CREATE TABLE app_run_shares (
            run_id TEXT NOT NULL,
            principal TEXT NOT NULL,
            granted_by TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (run_id, principal)
        )"""
    )
    conn.execute("CREATE INDEX app_run_shares_by_principal ON app_run_shares (principal, run_id)")


def _v3(conn: sqlite3.Connection) -> None:
    # What each published version is as an app (has code; how many inputs), kept so that
    # listing apps never loads every published notebook again.
    conn.execute(
        """CREATE TABLE app_shapes (
            published_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            code INTEGER NOT NULL,
            inputs INTEGER NOT NULL,
            PRIMARY KEY (published_id, version)
        )"""
    )


MIGRATIONS = [_v1, _v2, _v3]

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "timed_out", "cancelled")


@dataclass
class Run:
    id: str
    app_id: str
    app_version: int
    owner: str
    parameters: dict[str, Any]
    status: str = "queued"
    created: str = field(default_factory=now_iso)
    started: str | None = None
    ended: str | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    progress: dict[str, int] | None = None
    schedule_id: str | None = None
    warm: bool = False

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app_id,
            "status": self.status,
            "parameters": self.parameters,
            "user": self.owner,
            "version": self.app_version,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
            "result": self.result,
            "error": self.error,
            "progress": self.progress,
            "schedule": self.schedule_id,
            "warm": self.warm,
        }


@dataclass
class Schedule:
    id: str
    app_id: str
    owner: str
    cron: str
    parameters: dict[str, Any]
    created: str
    active: bool = True
    stopped: str | None = None
    last_fired: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app_id,
            "user": self.owner,
            "cron": self.cron,
            "parameters": self.parameters,
            "created": self.created,
            "active": self.active,
            "stopped": self.stopped,
            "last_fired": self.last_fired,
        }


_RUN_COLUMNS = (
    "id, app_id, app_version, owner, parameters, status, created, started, ended, result, "
    "error, progress, schedule_id, warm"
)
_SCHEDULE_COLUMNS = "id, app_id, owner, cron, parameters, created, active, stopped, last_fired"


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _run(row: tuple[Any, ...]) -> Run:
    return Run(
        id=row[0], app_id=row[1], app_version=row[2], owner=row[3],
        parameters=json.loads(row[4]), status=row[5], created=row[6], started=row[7],
        ended=row[8], result=_loads(row[9]), error=_loads(row[10]), progress=_loads(row[11]),
        schedule_id=row[12], warm=bool(row[13]),
    )  # fmt: skip


def _schedule(row: tuple[Any, ...]) -> Schedule:
    return Schedule(
        id=row[0], app_id=row[1], owner=row[2], cron=row[3], parameters=json.loads(row[4]),
        created=row[5], active=bool(row[6]), stopped=row[7], last_fired=row[8],
    )  # fmt: skip


def new_id() -> str:
    return secrets.token_urlsafe(12)


class AppStore:
    """Runs and schedules (short statements on the event loop; writes retried when busy)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.conn = db.conn
        migrate(db, "apps", MIGRATIONS)

    # -- shapes -------------------------------------------------------------------------

    def shapes(self) -> dict[tuple[str, int], tuple[bool, int]]:
        """``{(published id, version): (has code, number of inputs)}`` as recorded."""
        rows = self.conn.execute("SELECT published_id, version, code, inputs FROM app_shapes")
        return {(r[0], int(r[1])): (bool(r[2]), int(r[3])) for r in rows}

    async def add_shape(self, published_id: str, version: int, code: bool, inputs: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO app_shapes (published_id, version, code, inputs)"
                " VALUES (?, ?, ?, ?)",
                [published_id, version, int(code), inputs],
            )

        await write(self.conn, work)

    # -- runs ---------------------------------------------------------------------------

    async def add_run(self, run: Run) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO app_runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [run.id, run.app_id, run.app_version, run.owner, json.dumps(run.parameters),
                 run.status, run.created, run.started, run.ended, None, None, None,
                 run.schedule_id, int(run.warm)],
            )  # fmt: skip

        await write(self.db, work)

    async def save_run(self, run: Run, notebook: dict[str, Any] | None = None) -> None:
        blob = zlib.compress(json.dumps(notebook).encode()) if notebook is not None else None

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE app_runs SET status=?, started=?, ended=?, result=?, error=?,"
                " progress=?, warm=?, notebook=COALESCE(?, notebook) WHERE id=?",
                [run.status, run.started, run.ended,
                 None if run.result is None else json.dumps(run.result),
                 None if run.error is None else json.dumps(run.error),
                 None if run.progress is None else json.dumps(run.progress),
                 int(run.warm), blob, run.id],
            )  # fmt: skip

        await write(self.db, work)

    def run(self, run_id: str) -> Run | None:
        row = self.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM app_runs WHERE id = ?", [run_id]
        ).fetchone()
        return _run(row) if row else None

    def notebook(self, run_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT notebook FROM app_runs WHERE id = ?", [run_id]).fetchone()
        if not row or row[0] is None:
            return None
        value: dict[str, Any] = json.loads(zlib.decompress(row[0]))
        return value

    def runs(
        self,
        owner: str,
        app_id: str | None = None,
        schedule_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Run]:
        where, args = ["owner = ?"], [owner]
        if app_id is not None:
            where.append("app_id = ?")
            args.append(app_id)
        if schedule_id is not None:
            where.append("schedule_id = ?")
            args.append(schedule_id)
        if before is not None:
            where.append("created < ?")
            args.append(before)
        rows = self.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM app_runs WHERE {' AND '.join(where)}"
            " ORDER BY created DESC, rowid DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
        return [_run(r) for r in rows]

    def runs_shared_with(
        self, principals: list[str], not_owner: str, app_id: str | None = None, limit: int = 50
    ) -> list[Run]:
        """Runs of other people shared with any of ``principals``, newest first."""
        if not principals:
            return []
        marks = ",".join("?" * len(principals))
        where, args = [f"s.principal IN ({marks})", "r.owner != ?"], [*principals, not_owner]
        if app_id is not None:
            where.append("r.app_id = ?")
            args.append(app_id)
        columns = ", ".join(f"r.{c.strip()}" for c in _RUN_COLUMNS.split(","))
        rows = self.conn.execute(
            f"SELECT DISTINCT {columns} FROM app_run_shares s JOIN app_runs r ON r.id = s.run_id"
            f" WHERE {' AND '.join(where)} ORDER BY r.created DESC, r.rowid DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
        return [_run(r) for r in rows]

    # -- shares ---------------------------------------------------------------------------

    def shares(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT principal, granted_by, created FROM app_run_shares WHERE run_id = ?"
            " ORDER BY created, principal",
            [run_id],
        ).fetchall()
        return [{"principal": r[0], "granted_by": r[1], "created": r[2]} for r in rows]

    def shared_with_any(self, run_id: str, principals: list[str]) -> bool:
        if not principals:
            return False
        marks = ",".join("?" * len(principals))
        row = self.conn.execute(
            f"SELECT 1 FROM app_run_shares WHERE run_id = ? AND principal IN ({marks}) LIMIT 1",
            [run_id, *principals],
        ).fetchone()
        return row is not None

    async def add_share(self, run_id: str, principal: str, granted_by: str, limit: int) -> bool:
        """Share; False when the run already has ``limit`` shares (sharing again is a no-op)."""

        def work(conn: sqlite3.Connection) -> bool:
            count = conn.execute(
                "SELECT COUNT(*) FROM app_run_shares WHERE run_id = ? AND principal != ?",
                [run_id, principal],
            ).fetchone()[0]
            if count >= limit:
                return False
            conn.execute(
                "INSERT OR IGNORE INTO app_run_shares (run_id, principal, granted_by, created)"
                " VALUES (?,?,?,?)",
                [run_id, principal, granted_by, now_iso()],
            )
            return True

        return await write(self.db, work)

    async def remove_share(self, run_id: str, principal: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "DELETE FROM app_run_shares WHERE run_id = ? AND principal = ?",
                    [run_id, principal],
                ).rowcount
                > 0
            )

        return await write(self.db, work)

    async def prune(self, before: str) -> int:
        """Forget finished runs created before ``before`` (their notebooks and shares with
        them)."""

        def work(conn: sqlite3.Connection) -> int:
            conn.execute(
                "DELETE FROM app_run_shares WHERE run_id IN (SELECT id FROM app_runs"
                " WHERE created < ? AND status NOT IN ('queued', 'running'))",
                [before],
            )
            return conn.execute(
                "DELETE FROM app_runs WHERE created < ? AND status NOT IN ('queued', 'running')",
                [before],
            ).rowcount

        return await write(self.db, work)

    async def close_interrupted(self, message: str) -> int:
        """Runs a stopped server left queued or running end as failed (at start)."""
        error = json.dumps({"ename": "ServerStopped", "evalue": message})

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE app_runs SET status='failed', ended=?, error=?"
                " WHERE status IN ('queued', 'running')",
                [now_iso(), error],
            ).rowcount

        return await write(self.db, work)

    # -- schedules ------------------------------------------------------------------------

    async def add_schedule(self, schedule: Schedule, sealed_token: bytes) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO app_schedules ({_SCHEDULE_COLUMNS}, token)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                [schedule.id, schedule.app_id, schedule.owner, schedule.cron,
                 json.dumps(schedule.parameters), schedule.created, int(schedule.active),
                 schedule.stopped, schedule.last_fired, sealed_token],
            )  # fmt: skip

        await write(self.db, work)

    def schedule(self, schedule_id: str) -> Schedule | None:
        row = self.conn.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM app_schedules WHERE id = ?", [schedule_id]
        ).fetchone()
        return _schedule(row) if row else None

    def sealed_token(self, schedule_id: str) -> bytes | None:
        row = self.conn.execute(
            "SELECT token FROM app_schedules WHERE id = ?", [schedule_id]
        ).fetchone()
        return bytes(row[0]) if row else None

    def schedules(
        self, owner: str | None = None, app_id: str | None = None, active_only: bool = False
    ) -> list[Schedule]:
        where, args = ["active = 1" if active_only else "1"], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if app_id is not None:
            where.append("app_id = ?")
            args.append(app_id)
        rows = self.conn.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM app_schedules WHERE {' AND '.join(where)}"
            " ORDER BY created",
            args,
        ).fetchall()
        return [_schedule(r) for r in rows]

    async def fired(self, schedule_id: str, when: str) -> None:
        await write(
            self.db,
            lambda conn: conn.execute(
                "UPDATE app_schedules SET last_fired = ? WHERE id = ?", [when, schedule_id]
            ),
        )

    async def stop_schedule(self, schedule_id: str, reason: str) -> None:
        await write(
            self.db,
            lambda conn: conn.execute(
                "UPDATE app_schedules SET active = 0, stopped = ? WHERE id = ?",
                [reason, schedule_id],
            ),
        )

    async def delete_schedule(self, schedule_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute("DELETE FROM app_schedules WHERE id = ?", [schedule_id]).rowcount > 0
            )

        return await write(self.db, work)
