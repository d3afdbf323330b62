"""The embedded SQLite database: one file under the data directory, shared by every concern.

This module owns opening the database with the settings durability depends on, and the three
things every concern needs to use it well:

* :func:`transaction` — one explicit transaction (``BEGIN`` … ``COMMIT``, ``ROLLBACK`` on any
  error), instead of hand-written blocks;
* :func:`write` — a write that must succeed, retried *asynchronously* while another process
  (a backup, ``sqlite3`` on the command line, a second server) holds the write lock, so the
  event loop stays free for everyone else; past a bound it raises :class:`DatabaseBusy`
  (an ``Unavailable``: 503 with ``Retry-After``);
* :func:`migrate` — a schema version per concern (table ``schema_versions``), with
  migrations as ordered functions, instead of ``CREATE TABLE IF NOT EXISTS`` in constructors.

**Busy timeout.** The server's connection waits at most :data:`BUSY_TIMEOUT_MS` for a lock.
SQLite waits by sleeping in the calling thread, which is the event loop: a long timeout
freezes every request of every tenant for as long as someone else holds the lock. Short
waits fail fast instead; writes that must land go through :func:`write`.

WAL with ``synchronous=NORMAL`` survives a crash of the server process (``kill -9``), which
is the promise we make; it does not survive a power cut of the machine (that would need
``synchronous=FULL``, about 3x slower per commit). Operators can change it with
``CollabServer.sqlite_synchronous``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from .errors import Unavailable

# How long one statement may wait for a lock held by someone else, on the event loop.
BUSY_TIMEOUT_MS = 30
# How long write() keeps retrying before it gives up with DatabaseBusy.
WRITE_BOUND_SECONDS = 10.0

T = TypeVar("T")


BUSY_MESSAGE = "The database is busy; try again"


class DatabaseBusy(Unavailable):
    """The database stayed locked by someone else for longer than a write may wait.

    An :class:`~collab_server.core.errors.Unavailable`: answered with 503, ``Retry-After: 1``
    and :data:`BUSY_MESSAGE`."""

    def __init__(self, message: str = BUSY_MESSAGE, *, retry_after: float | None = 1) -> None:
        super().__init__(message, retry_after=retry_after)


def open_database(
    path: Path, synchronous: str = "NORMAL", busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> sqlite_utils.Database:
    """Open (creating if needed) the server database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we open transactions explicitly with BEGIN, so a batch of updates
    # is one commit and nothing is committed behind our back.
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    # Opening may itself meet a lock (WAL recovery by another process): be patient here only.
    conn.execute("PRAGMA busy_timeout=5000")
    # Compaction deletes many rows at once; incremental auto-vacuum lets the store give those
    # pages back to the file system (it only takes effect on a database created with it).
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    return sqlite_utils.Database(conn)


def database_dir(db: sqlite_utils.Database) -> Path | None:
    """The folder of the database file (the server's data directory), or None in memory."""
    for _, name, file in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file).parent
    return None


def is_busy(error: BaseException) -> bool:
    """Is ``error`` SQLite saying that someone else holds the lock?"""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    text = str(error).lower()
    return "locked" in text or "busy" in text


CANNOT_WRITE_MESSAGE = "The server cannot store changes right now; try again later"


def cannot_write(error: BaseException) -> bool:
    """Is ``error`` SQLite saying the database cannot be written at all now (a full disk, a
    read-only file system)? Not worth retrying within a request: answered 503."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    text = str(error).lower()
    return "disk is full" in text or "readonly" in text or "disk i/o error" in text


def storage_problem(error: BaseException) -> str | None:
    """SQLite's own words when ``error`` (or what caused it) is the database being locked,
    full or read-only — an expected condition, logged in one line, not as a traceback."""
    seen: BaseException | None = error
    for _ in range(8):  # a cause chain is short; never loop on a cycle
        if seen is None:
            return None
        if is_busy(seen) or cannot_write(seen):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """``BEGIN [IMMEDIATE]`` … ``COMMIT``; ``ROLLBACK`` on any error (re-raised).

    ``immediate`` takes the write lock at once, so a transaction that writes never fails
    half-way on a lock (a busy error comes from BEGIN, where retrying is safe)."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            # SQLite may already have rolled back (a full disk): never hide the first error
            # behind "no transaction is active".
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


async def write(
    db: sqlite_utils.Database | sqlite3.Connection,
    work: Callable[[sqlite3.Connection], T],
    *,
    bound: float = WRITE_BOUND_SECONDS,
) -> T:
    """Run ``work(conn)`` in one transaction, retrying while the database is locked.

    Between attempts the event loop is free (``asyncio.sleep`` with back-off from 5 ms to
    200 ms). ``work`` must be safe to run again: it runs inside a fresh transaction each time
    and anything it wrote is rolled back on failure. Raises :class:`DatabaseBusy` once the
    lock has been held by others for ``bound`` seconds."""
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    deadline = time.monotonic() + bound
    delay = 0.005
    while True:
        try:
            with transaction(conn):
                return work(conn)
        except sqlite3.OperationalError as e:
            if cannot_write(e):
                raise Unavailable(CANNOT_WRITE_MESSAGE, retry_after=5) from e
            if not is_busy(e):
                raise
            if time.monotonic() + delay > deadline:
                raise DatabaseBusy(BUSY_MESSAGE) from e
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


# -- schema versions ----------------------------------------------------------------------

Migration = Callable[[sqlite3.Connection], None]


def migrate(db: sqlite_utils.Database, concern: str, migrations: Sequence[Migration]) -> int:
    """Bring ``concern``'s tables to the latest version; returns that version.

    ``migrations[i]`` takes the schema from version ``i`` to ``i + 1``; a concern's version
    is kept in the ``schema_versions`` table. Each migration runs in its own transaction with
    its version bump, so a crash leaves the schema at a known version. Only append to a
    concern's list: never edit a migration that has shipped. Runs at start-up (before the
    event loop serves anyone), so it may wait for the lock."""
    conn = db.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions "
        "(concern TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    row = conn.execute(
        "SELECT version FROM schema_versions WHERE concern = ?", [concern]
    ).fetchone()
    version = int(row[0]) if row else 0
    for number, step in enumerate(migrations[version:], start=version + 1):
        with _patient(conn), transaction(conn):
            step(conn)
            conn.execute(
                "INSERT INTO schema_versions (concern, version) VALUES (?, ?) "
                "ON CONFLICT(concern) DO UPDATE SET version = excluded.version",
                [concern, number],
            )
        version = number
    return version


@contextmanager
def _patient(conn: sqlite3.Connection) -> Iterator[None]:
    (previous,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout=5000")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(previous)}")
