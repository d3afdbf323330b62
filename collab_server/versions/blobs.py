"""Where the bytes of versions live: a small back-end interface and its SQLite implementation.

A blob is the zlib-compressed canonical JSON of one cell or of one notebook skeleton (the
notebook without its cells), keyed by the sha256 of the *uncompressed* JSON, so a key says what
the content is whatever the compression. The version store keeps its index (which versions use
which blobs, reference counts) in SQLite whatever the back end; a back end only stores bytes
under keys. S3 (or any object store) fits the same Protocol: keys are object names.

Contract: ``put`` of an existing key is a no-op (same key, same content); ``get_many`` raises
``KeyError`` for a key it does not hold; ``delete`` ignores keys it does not hold.
``transactional`` says whether writes join the store's SQLite transaction (the SQLite back end
does). For one that does not (S3), the store writes blobs before committing the index that
references them and deletes them only after committing the index that no longer does, so a
crash can leave unreferenced objects (a sweep may delete keys absent from ``version_blobs``)
but never an index entry without its bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import sqlite_utils


class BlobBackend(Protocol):
    """Immutable bytes under content-address keys."""

    transactional: bool

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None: ...

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]: ...

    def delete(self, keys: Iterable[str]) -> None: ...


class SQLiteBlobs:
    """Blobs in the ``version_blob_data`` table of the server database.

    It uses the caller's connection and opens no transaction of its own, so its writes commit
    (or roll back) with the version index that references them.
    """

    transactional = True

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn
        # A rowid table (not WITHOUT ROWID): rows hold blobs of any size, which SQLite stores
        # better out of a clustered index.
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS version_blob_data ("
            " key TEXT NOT NULL UNIQUE,"
            " data BLOB NOT NULL)"
        )

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        self._conn.executemany(
            "INSERT OR IGNORE INTO version_blob_data (key, data) VALUES (?, ?)", items
        )

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        wanted = list(dict.fromkeys(keys))
        # SQLite limits bound parameters per statement (999 on old builds): query in chunks.
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, data in self._conn.execute(
                f"SELECT key, data FROM version_blob_data WHERE key IN ({marks})", chunk
            ):
                found[key] = bytes(data)
        missing = [k for k in wanted if k not in found]
        if missing:
            raise KeyError(f"{len(missing)} version blob(s) missing, e.g. {missing[0]}")
        return found

    def delete(self, keys: Iterable[str]) -> None:
        self._conn.executemany("DELETE FROM version_blob_data WHERE key = ?", [(k,) for k in keys])

    def stored_bytes(self) -> int:
        """Compressed bytes held (for measurements and tests)."""
        row = self._conn.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM version_blob_data")
        return int(row.fetchone()[0])
