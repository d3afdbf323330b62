"""The gallery's tables in the server database, created in one place.

This module owns the gallery's DDL; :mod:`.index` and :mod:`.activity` read and write these
tables, nobody else does. Notebooks are keyed by their stable file id (``files.id``), so
tags, stars and activity survive renames; only ``gallery_notebooks.path`` follows a rename.

* ``gallery_notebooks`` — one row per indexed notebook: the facts a result shows and filters
  on (path, owner, language, updated, counters, health). Its integer ``id`` is the ``rowid``
  of the notebook's row in ``gallery_fts``.
* ``gallery_fts`` — FTS5 over title, description, markdown, code, tags, packages (Porter
  stemming over unicode61 without diacritics: "plots" finds "plot", "café" finds "cafe";
  prefix indexes for 2 and 3 characters, so ``vis*`` reads one list), and ``acl``: one
  opaque token per folder above the notebook and one for its own path (see
  :func:`.index.acl_token`), so a permission filter can be a term of the MATCH itself.
* ``gallery_packages`` — (file id, package) for the exact ``package:`` filter.
* ``gallery_tags``, ``gallery_stars`` — who tagged or starred what, when.
* ``gallery_activity`` — views and runs per (notebook, person, UTC day): the activity log
  the recommendations and "trending" read.
* ``gallery_executions`` — one row per cell execution (the health formula's input).
* ``gallery_similar`` — precomputed text similarity, top neighbours per notebook.
* ``gallery_meta`` — facts about the index itself (``text_version``: what it was built with).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

from ..core.db import transaction as core_transaction

FTS_COLUMNS = ("title", "description", "markdown", "code", "tags", "packages", "acl")

_DDL = """
CREATE TABLE IF NOT EXISTS gallery_notebooks (
    id INTEGER PRIMARY KEY,
    file_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    title_from_name INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL DEFAULT 0,
    code_hash TEXT NOT NULL DEFAULT '',
    code_changed REAL,
    stars INTEGER NOT NULL DEFAULT 0,
    views INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    health REAL,
    previous_health REAL
);
CREATE INDEX IF NOT EXISTS gallery_notebooks_owner ON gallery_notebooks (owner);
CREATE INDEX IF NOT EXISTS gallery_notebooks_updated ON gallery_notebooks (updated);
CREATE VIRTUAL TABLE IF NOT EXISTS gallery_fts USING fts5 (
    title, description, markdown, code, tags, packages, acl,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TABLE IF NOT EXISTS gallery_packages (
    package TEXT NOT NULL,
    file_id TEXT NOT NULL,
    PRIMARY KEY (package, file_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gallery_packages_file ON gallery_packages (file_id);
CREATE TABLE IF NOT EXISTS gallery_tags (
    file_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (file_id, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gallery_tags_tag ON gallery_tags (tag);
CREATE TABLE IF NOT EXISTS gallery_stars (
    file_id TEXT NOT NULL,
    person TEXT NOT NULL,
    starred_at REAL NOT NULL,
    PRIMARY KEY (file_id, person)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gallery_stars_person ON gallery_stars (person);
CREATE TABLE IF NOT EXISTS gallery_activity (
    file_id TEXT NOT NULL,
    person TEXT NOT NULL,
    day TEXT NOT NULL,
    views INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (file_id, person, day)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gallery_activity_person ON gallery_activity (person, day);
CREATE INDEX IF NOT EXISTS gallery_activity_day ON gallery_activity (day);
CREATE TABLE IF NOT EXISTS gallery_executions (
    file_id TEXT NOT NULL,
    cell_id TEXT NOT NULL,
    cell_index INTEGER NOT NULL,
    source_hash TEXT NOT NULL,
    person TEXT NOT NULL,
    session TEXT NOT NULL,
    ok INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS gallery_executions_file ON gallery_executions (file_id, at);
CREATE TABLE IF NOT EXISTS gallery_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gallery_similar (
    file_id TEXT NOT NULL,
    other_id TEXT NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (file_id, other_id)
) WITHOUT ROWID;
"""


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the gallery's tables if they do not exist yet (idempotent)."""
    # SQLite 3.40's quick_check reports false "NULL value" errors for a WITHOUT ROWID table
    # whose primary key lists its columns in another order than the table does, and the
    # server refuses to start on a failed check. Such a table (an early schema of this one) is
    # derived data: drop it, the start-up build fills it again.
    columns = [row[1] for row in db.conn.execute("PRAGMA table_info(gallery_packages)")]
    if columns and columns[0] != "package":
        db.conn.execute("DROP TABLE gallery_packages")
    db.conn.executescript(_DDL)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """One explicit transaction on the server's connection (:func:`core.db.transaction`);
    inside a caller's transaction, just join it (a bulk build runs many upserts in one)."""
    conn = db.conn
    if conn.in_transaction:
        yield conn
        return
    with core_transaction(conn) as joined:
        yield joined
