"""The server's data directory: where it is, what lives in it, who may read it, who holds it.

This module is the one place that knows the directory's layout: :func:`default_data_dir`
computes where it is, :func:`database_path` where the database lives in it (the server, the
accounts provider and the ``create-user`` command all ask it), :data:`LOCK_NAME` the lock,
:func:`private_key` the server's key files (comment signatures, schedules' tokens).

* The default is specific to the root directory (``<jupyter data dir>/collab_server/<hash of
  the resolved root>``): two projects on one machine never mix their accounts or file ids.
* It holds every tenant's documents and password hashes: the directory is made ``0700`` and the
  database files ``0600`` (broader modes left by older versions are narrowed at start, once,
  with a warning).
* One server at a time: the server holds an exclusive ``flock`` on ``server.lock`` inside it for
  the life of the process, so a second server on the same directory refuses to start instead
  of silently losing edits. The ``create-user`` command does not take it (it only writes
  accounts, which SQLite's own locking protects).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

from jupyter_core.paths import jupyter_data_dir

from .errors import Unavailable

DATABASE_NAME = "collab.sqlite"
LOCK_NAME = "server.lock"
_DB_SUFFIXES = ("", "-wal", "-shm", "-journal")


class DataDirError(Unavailable):
    """The data directory cannot be used; the message says why and what to do (the server
    refuses to start with it)."""


def database_path(data_dir: str | os.PathLike[str]) -> Path:
    """The server's SQLite database inside ``data_dir``."""
    return Path(data_dir).expanduser() / DATABASE_NAME


def default_data_dir(root_dir: str | os.PathLike[str]) -> Path:
    """``<jupyter data dir>/collab_server/<12 hex digits of sha256(resolved root)>``."""
    resolved = str(Path(root_dir).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:12]
    return Path(jupyter_data_dir()) / "collab_server" / digest


def secure(data_dir: Path) -> list[str]:
    """Create ``data_dir`` (0700) and narrow the modes of what it holds; returns what changed."""
    changed: list[str] = []
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(data_dir.stat().st_mode) & 0o077:
        data_dir.chmod(0o700)
        changed.append("the data directory (now 0700)")
    database = data_dir / DATABASE_NAME
    if not database.exists():
        # SQLite gives its -wal and -shm files the main file's mode: create it private.
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    for suffix in _DB_SUFFIXES:
        path = data_dir / (DATABASE_NAME + suffix)
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
            changed.append(f"{path.name} (now 0600)")
    return changed


def lock(data_dir: Path) -> IO[bytes]:
    """Hold ``data_dir`` for this process (keep the returned file open for the process's life).

    Raises :class:`DataDirError` if another process holds it.
    """
    handle = open(data_dir / LOCK_NAME, "a+b")  # noqa: SIM115 - held until the process exits
    os.chmod(handle.name, 0o600)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        handle.close()
        raise DataDirError(
            f"Another collab-server is already running on the data directory {data_dir}. "
            "Two servers on one data directory would lose edits: stop the other one, or give "
            "this one its own --data-dir."
        ) from e
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    return handle


def check_integrity(conn: sqlite3.Connection, data_dir: Path) -> None:
    """Refuse a damaged database now, rather than answer 500 to every request later."""
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as e:
        raise damaged(data_dir, str(e)) from e
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    if problems:
        raise damaged(data_dir, "; ".join(problems[:3]))


def damaged(data_dir: Path, detail: str) -> DataDirError:
    return DataDirError(
        f"The database {DATABASE_NAME} in the data directory {data_dir} is damaged ({detail}). "
        "Stop here: restore it from a backup, or move it away to start with an empty one."
    )


def private_key(folder: Path, name: str, make: Callable[[], bytes]) -> bytes:
    """The key kept in ``folder/name``: made with ``make()`` the first time (mode 0600; of two
    servers starting at once, one makes it and both read it), its surrounding whitespace
    stripped. A key file someone made readable to others (a copy, a restore) is narrowed."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(make())
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    return path.read_bytes().strip()
