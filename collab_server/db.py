"""The embedded SQLite database: one file under the data directory, shared by every concern.

This module owns opening the database with the settings durability depends on. Each concern
creates its own tables (``contents.fileids``, ``rooms.store``); none reaches into another's.

WAL with ``synchronous=NORMAL`` survives a crash of the server process (``kill -9``), which
is the promise we make; it does not survive a power cut of the machine (that would need
``synchronous=FULL``, about 3x slower per commit). Operators can change it with
``CollabServer.sqlite_synchronous``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils


def open_database(path: Path, synchronous: str = "NORMAL") -> sqlite_utils.Database:
    """Open (creating if needed) the server database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we open transactions explicitly with BEGIN, so a batch of updates
    # is one commit and nothing is committed behind our back.
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    # Compaction deletes many rows at once; incremental auto-vacuum lets the store give those
    # pages back to the file system (it only takes effect on a database created with it).
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return sqlite_utils.Database(conn)
