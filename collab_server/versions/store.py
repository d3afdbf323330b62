"""The version store: immutable versions of every notebook, in the server's SQLite database.

Scheme (content-addressed, deduplicated at the cell level):

* Each distinct cell (its canonical JSON) and each distinct *skeleton* (the notebook without
  its cells: metadata — comments included — and the format numbers) is a blob, stored once,
  zlib-compressed, in a :class:`~collab_server.versions.blobs.BlobBackend` under the sha256 of
  its JSON. ``version_blobs`` indexes them with a small integer id, a reference count and sizes.
* A version is a row of ``versions``: the skeleton's blob id plus the list of the cells' blob
  ids (delta-encoded and compressed: 12 bytes for 100 cells stored together, up to ~250 once
  every cell has changed at a different time), so a version that changed one cell costs that
  cell's compressed JSON plus a few hundred bytes at most, not a copy of the notebook.
* Blobs are reference counted (one count per use in a version); dropping versions (retention,
  ``forget``) deletes the blobs that no version uses any more.
* A version's ``id`` is the sha256 of the notebook's canonical JSON (its content address):
  rebuilding skeleton + cells gives those bytes back, so the id checks the content.

A row is an *event* in a file's history (cut at a time, of a kind, by authors); its content is
shared. The same content cut twice in one file (edit then undo, a restore of an old version)
gives two rows with the same ``id`` and one copy of the bytes. Each row also has a ``number``,
1, 2, 3… per file, which is unique and is the paging cursor. Operations that name a version by
``id`` (``label``, ``pin``) act on the newest row with that id; ``get`` is unambiguous since the
content is the same.

``add`` never cuts a version for nothing: content equal to the head's returns the head.
Transactions are explicit (``BEGIN IMMEDIATE`` … ``COMMIT``): the connection runs with
``isolation_level=None``.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import sqlite_utils

from collab_server.versions import canonical
from collab_server.versions.blobs import BlobBackend, SQLiteBlobs
from collab_server.versions.retention import RetentionPolicy, RowInfo, to_drop

from ..core.db import transaction

Kind = Literal["save", "auto", "restore", "publish", "external"]
KINDS: tuple[str, ...] = get_args(Kind)

# zlib level 6 (the default) is within a few percent of 9 on notebook JSON at half the time.
_ZLIB_LEVEL = 6


class VersionNotFound(KeyError):
    """No such version of this file (a 404)."""


@dataclass(frozen=True)
class Author:
    id: str
    name: str


@dataclass(frozen=True)
class Version:
    """One entry of a file's history, as listed (the content is fetched with ``get``)."""

    id: str
    number: int
    file_id: str
    created: str  # ISO-8601 UTC
    kind: str
    label: str | None
    authors: tuple[Author, ...]
    parent: str | None
    size: int  # bytes of the canonical JSON
    pinned: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "created": self.created,
            "kind": self.kind,
            "label": self.label,
            "authors": [{"id": a.id, "name": a.name} for a in self.authors],
            "parent": self.parent,
            "size": self.size,
        }


@dataclass(frozen=True)
class VersionPage:
    versions: list[Version]
    next_before: int | None  # pass as ``before`` for the next (older) page; None at the end


@dataclass
class StoreSize:
    versions: int = 0
    blobs: int = 0
    raw_bytes: int = 0  # uncompressed JSON of the distinct blobs
    stored_bytes: int = 0  # compressed bytes of the distinct blobs
    index_bytes: int = 0  # packed cell lists of the version rows


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _authors(value: Sequence[Any]) -> tuple[Author, ...]:
    out: list[Author] = []
    seen: set[str] = set()
    for a in value:
        author = a if isinstance(a, Author) else Author(id=str(a["id"]), name=str(a["name"]))
        if author.id not in seen:
            seen.add(author.id)
            out.append(author)
    return tuple(out)


def _pack(ids: Sequence[int]) -> bytes:
    """A version's cell list: blob ids as zigzag varint deltas, zlib-compressed.

    Cells of a notebook were mostly stored together, so consecutive ids differ by one and the
    list compresses to a few bytes plus a few per cell changed since: the index of a version
    stays small next to its content (4-byte ids would cost 400 bytes per 100-cell version).
    """
    out = bytearray()
    previous = 0
    for blob_id in ids:
        delta = blob_id - previous
        previous = blob_id
        value = delta * 2 if delta >= 0 else -delta * 2 - 1
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return zlib.compress(bytes(out), 9)


def _unpack(data: bytes) -> builtins.list[int]:
    raw = zlib.decompress(data)
    ids: builtins.list[int] = []
    previous = value = shift = 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        previous += value >> 1 if not value & 1 else -((value + 1) >> 1)
        ids.append(previous)
        value = shift = 0
    return ids


@dataclass(frozen=True)
class _Prepared:
    """A notebook ready to store: its content id, canonical size and JSON parts."""

    id: str
    size: int
    parts: builtins.list[bytes]  # the skeleton, then each cell


def _assemble(
    keys: dict[int, str], skeleton_id: int, blob_ids: Sequence[int], data: dict[str, bytes]
) -> dict[str, Any]:
    raw = {k: zlib.decompress(v) for k, v in data.items()}
    nb: dict[str, Any] = json.loads(raw[keys[skeleton_id]])
    # Parsed per position: each cell is its own object even where one blob backs several.
    nb["cells"] = [json.loads(raw[keys[i]]) for i in blob_ids[1:]]
    return nb


_COLUMNS = "number, file_id, id, created, kind, label, authors, parent, size, pinned"


def _row(row: Sequence[Any]) -> Version:
    number, file_id, vid, created, kind, label, authors, parent, size, pinned = row
    return Version(
        id=vid,
        number=number,
        file_id=file_id,
        created=created,
        kind=kind,
        label=label,
        authors=_authors(json.loads(authors)),
        parent=parent,
        size=size,
        pinned=bool(pinned),
    )


class VersionStore:
    """Every file's versions: ``versions`` and ``version_blobs`` tables plus a blob back end."""

    def __init__(self, db: sqlite_utils.Database, backend: BlobBackend | None = None) -> None:
        self._conn = db.conn
        self.backend: BlobBackend = backend if backend is not None else SQLiteBlobs(db)
        # A network back end's changes, one at a time (the ``*_async`` methods): a deletion
        # after its commit must not race an upload of the same key (see ``s3.py``).
        self._network = asyncio.Lock()
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS version_blobs (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                refs INTEGER NOT NULL,
                raw_size INTEGER NOT NULL,
                stored_size INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS versions (
                file_id TEXT NOT NULL,
                number INTEGER NOT NULL,
                id TEXT NOT NULL,
                created TEXT NOT NULL,
                kind TEXT NOT NULL,
                label TEXT,
                authors TEXT NOT NULL,
                parent TEXT,
                size INTEGER NOT NULL,
                pinned INTEGER NOT NULL DEFAULT 0,
                skeleton INTEGER NOT NULL,
                cells BLOB NOT NULL,
                PRIMARY KEY (file_id, number)
            );
            CREATE INDEX IF NOT EXISTS versions_by_id ON versions (file_id, id);
            """
        )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with transaction(self._conn):
            yield

    # -- reading -------------------------------------------------------------------------

    def head(self, file_id: str) -> Version | None:
        """The newest version of a file, or None if it has none."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM versions WHERE file_id = ? ORDER BY number DESC LIMIT 1",
            [file_id],
        ).fetchone()
        return _row(row) if row else None

    def _must_head(self, file_id: str) -> Version:
        head = self.head(file_id)
        if head is None:  # only called where a head exists and we hold the write lock
            raise VersionNotFound(file_id)
        return head

    def list(self, file_id: str, limit: int = 50, before: int | None = None) -> VersionPage:
        """A page of a file's versions, newest first; ``before`` is a ``number`` (exclusive)."""
        limit = max(1, min(int(limit), 1000))
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM versions WHERE file_id = ? AND number < ?"
            " ORDER BY number DESC LIMIT ?",
            [file_id, before if before is not None else 2**62, limit + 1],
        ).fetchall()
        versions = [_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return VersionPage(versions, versions[-1].number if more and versions else None)

    def file_ids(self) -> builtins.list[str]:
        """Every file (or published copy) that has versions."""
        return [r[0] for r in self._conn.execute("SELECT DISTINCT file_id FROM versions")]

    def find(self, file_id: str, version_id: str) -> Version:
        """The newest row of ``file_id`` whose content is ``version_id``."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM versions WHERE file_id = ? AND id = ?"
            " ORDER BY number DESC LIMIT 1",
            [file_id, version_id],
        ).fetchone()
        if row is None:
            raise VersionNotFound(version_id)
        return _row(row)

    def get(self, file_id: str, version_id: str) -> dict[str, Any]:
        """The notebook (canonical shape) of a version of ``file_id``."""
        keys, skeleton_id, blob_ids = self._locate(file_id, version_id)
        return _assemble(
            keys, skeleton_id, blob_ids, self.backend.get_many(list(set(keys.values())))
        )

    async def get_async(self, file_id: str, version_id: str) -> dict[str, Any]:
        """:meth:`get` with a network back end's reads in a worker thread."""
        if self.backend.transactional:
            return self.get(file_id, version_id)
        keys, skeleton_id, blob_ids = self._locate(file_id, version_id)
        data = await asyncio.to_thread(self.backend.get_many, list(set(keys.values())))
        return _assemble(keys, skeleton_id, blob_ids, data)

    def _locate(
        self, file_id: str, version_id: str
    ) -> tuple[dict[int, str], int, builtins.list[int]]:
        """(blob id → key, the skeleton's blob id, every blob id in order) of a version."""
        row = self._conn.execute(
            "SELECT skeleton, cells FROM versions WHERE file_id = ? AND id = ? LIMIT 1",
            [file_id, version_id],
        ).fetchone()
        if row is None:
            raise VersionNotFound(version_id)
        skeleton_id, packed = row
        blob_ids = [skeleton_id, *_unpack(bytes(packed))]
        return self._keys(blob_ids), skeleton_id, blob_ids

    def _keys(self, blob_ids: Sequence[int]) -> dict[int, str]:
        wanted = list(set(blob_ids))
        return dict(self._select_in("SELECT id, key FROM version_blobs WHERE id IN ({})", wanted))

    # -- writing -------------------------------------------------------------------------

    def _prepare(self, nb: dict[str, Any]) -> _Prepared:
        """The content address and parts (skeleton, cells) of ``nb``: CPU only, no I/O."""
        view = canonical.shared_view(nb)
        cells_json = [canonical.dumps(c) for c in view["cells"]]
        skeleton = {k: v for k, v in view.items() if k != "cells"}
        skeleton_json = canonical.dumps(skeleton)
        if skeleton and min(skeleton) > "cells":
            # The canonical JSON with "cells" first (it sorts first among nbformat's keys),
            # spliced from the parts instead of serialising the notebook a second time.
            full = b'{"cells":[' + b",".join(cells_json) + b"]," + skeleton_json[1:]
        else:
            full = canonical.dumps(view)
        return _Prepared(canonical.sha256(full), len(full), [skeleton_json, *cells_json])

    def add(
        self,
        file_id: str,
        nb: dict[str, Any],
        kind: str,
        authors: Sequence[Any] = (),
        label: str | None = None,
        created: str | None = None,
    ) -> Version:
        """Cut a version of ``nb``; the head itself (unchanged) if the content is the head's.

        ``authors`` are who edited since the parent (``{"id", "name"}`` or :class:`Author`).
        A ``publish`` cut of the head's content pins the head instead (retention keeps it).
        ``created`` is for imports and tests; it defaults to now.

        With a back end that waits on the network (S3), call :meth:`add_async` on the event
        loop instead.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown version kind {kind!r}")
        return self._commit(file_id, self._prepare(nb), kind, authors, label, created, {})

    async def add_async(
        self,
        file_id: str,
        nb: dict[str, Any],
        kind: str,
        authors: Sequence[Any] = (),
        label: str | None = None,
        created: str | None = None,
    ) -> Version:
        """:meth:`add` that does not block the event loop on a network back end: the blobs
        the index lacks are uploaded in a worker thread *before* the transaction opens (so no
        thread holds the database's write lock across a round trip); the transaction then
        re-checks and uploads only what another change made missing meanwhile (rare)."""
        if self.backend.transactional:
            return self.add(file_id, nb, kind, authors, label, created)
        if kind not in KINDS:
            raise ValueError(f"unknown version kind {kind!r}")
        prepared = self._prepare(nb)
        async with self._network:
            head = self.head(file_id)
            uploaded: dict[str, bytes] = {}
            if head is None or head.id != prepared.id:
                missing = self._unknown(prepared.parts)
                if missing:
                    await asyncio.to_thread(self.backend.put_many, list(missing.items()))
                uploaded = missing
            return self._commit(file_id, prepared, kind, authors, label, created, uploaded)

    def _unknown(self, parts: Sequence[bytes]) -> dict[str, bytes]:
        """The compressed parts whose keys the index lacks, by key."""
        unique = {canonical.sha256(p): p for p in parts}
        known = self._known([*unique])
        return {k: zlib.compress(p, _ZLIB_LEVEL) for k, p in unique.items() if k not in known}

    def _known(self, keys: Sequence[str]) -> dict[str, int]:
        return dict(self._select_in("SELECT key, id FROM version_blobs WHERE key IN ({})", keys))

    def _select_in(self, sql: str, values: Sequence[Any]) -> tuple[Any, ...]:
        """``sql`` with its ``IN ({})`` over ``values``, 500 at a time (SQLite caps the
        number of bound variables)."""
        rows: tuple[Any, ...] = ()
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            rows += tuple(self._conn.execute(sql.format(",".join("?" * len(chunk))), chunk))
        return rows

    def _commit(
        self,
        file_id: str,
        prepared: _Prepared,
        kind: str,
        authors: Sequence[Any],
        label: str | None,
        created: str | None,
        uploaded: dict[str, bytes],
    ) -> Version:
        vid = prepared.id
        who = _authors(authors)
        with self._transaction():
            head = self.head(file_id)
            # Same content as the head: nothing to cut, except a second, different name for
            # it (a label request on an already-named head), which is a new entry.
            same = head is not None and head.id == vid
            if head is not None and same and (label is None or head.label in (None, label)):
                if kind == "publish" and not head.pinned:
                    self._conn.execute(
                        "UPDATE versions SET pinned = 1 WHERE file_id = ? AND number = ?",
                        [file_id, head.number],
                    )
                    head = self._must_head(file_id)
                if label is not None and head.label is None:
                    self._set_label(file_id, head.number, label)
                    head = self._must_head(file_id)
                return head
            blob_ids = self._intern(prepared.parts, uploaded)
            number = head.number + 1 if head else 1
            self._conn.execute(
                "INSERT INTO versions (file_id, number, id, created, kind, label, authors,"
                " parent, size, pinned, skeleton, cells) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    file_id,
                    number,
                    vid,
                    created or _now(),
                    kind,
                    label,
                    json.dumps([{"id": a.id, "name": a.name} for a in who]),
                    head.id if head else None,
                    prepared.size,
                    1 if kind == "publish" else 0,
                    blob_ids[0],
                    _pack(blob_ids[1:]),
                ],
            )
        return self.find(file_id, vid)

    def _intern(self, parts: Sequence[bytes], uploaded: dict[str, bytes]) -> builtins.list[int]:
        """Blob ids for ``parts`` (storing the new ones), each reference counted once per use.
        ``uploaded``: compressed blobs already written to the back end, by key."""
        keyed = [canonical.sha256(p) for p in parts]
        unique = dict(zip(keyed, parts, strict=True))
        known = self._known([*unique])
        new = [
            (k, uploaded.get(k) or zlib.compress(unique[k], _ZLIB_LEVEL))
            for k in unique
            if k not in known
        ]
        if new:
            to_write = [(k, data) for k, data in new if k not in uploaded]
            if to_write:
                self.backend.put_many(to_write)
            for key, stored in new:
                cur = self._conn.execute(
                    "INSERT INTO version_blobs (key, refs, raw_size, stored_size)"
                    " VALUES (?, 0, ?, ?)",
                    [key, len(unique[key]), len(stored)],
                )
                assert cur.lastrowid is not None
                known[key] = cur.lastrowid
        ids = [known[k] for k in keyed]
        self._conn.executemany(
            "UPDATE version_blobs SET refs = refs + ? WHERE id = ?",
            [(n, i) for i, n in Counter(ids).items()],
        )
        return ids

    def _set_label(self, file_id: str, number: int, label: str | None) -> None:
        self._conn.execute(
            "UPDATE versions SET label = ? WHERE file_id = ? AND number = ?",
            [label, file_id, number],
        )

    def label(self, file_id: str, version_id: str, label: str | None) -> Version:
        """Name (or with None, unname) the newest version of ``file_id`` with this content."""
        with self._transaction():
            version = self.find(file_id, version_id)
            self._set_label(file_id, version.number, label)
        return self.find(file_id, version_id)

    def pin(self, file_id: str, version_id: str) -> Version:
        """Keep a version whatever retention says (a published copy points at it)."""
        with self._transaction():
            version = self.find(file_id, version_id)
            self._conn.execute(
                "UPDATE versions SET pinned = 1 WHERE file_id = ? AND number = ?",
                [file_id, version.number],
            )
        return self.find(file_id, version_id)

    # -- dropping ------------------------------------------------------------------------

    def _drop_rows(self, file_id: str, numbers: Sequence[int]) -> builtins.list[str]:
        """Delete rows and release their blobs (inside a transaction).

        Returns the keys of blobs nothing uses any more, already deleted from a transactional
        back end; the caller deletes them from any other back end once the index is committed
        (deleting first and then rolling back would lose bytes that versions still use).
        """
        released: Counter[int] = Counter()
        for number in numbers:
            row = self._conn.execute(
                "SELECT skeleton, cells FROM versions WHERE file_id = ? AND number = ?",
                [file_id, number],
            ).fetchone()
            if row is None:
                continue
            released[row[0]] += 1
            released.update(_unpack(bytes(row[1])))
            self._conn.execute(
                "DELETE FROM versions WHERE file_id = ? AND number = ?", [file_id, number]
            )
        self._conn.executemany(
            "UPDATE version_blobs SET refs = refs - ? WHERE id = ?",
            [(n, i) for i, n in released.items()],
        )
        dead: builtins.list[tuple[int, str]] = []
        touched = [*released]
        for start in range(0, len(touched), 500):
            chunk = touched[start : start + 500]
            marks = ",".join("?" * len(chunk))
            dead += self._conn.execute(
                f"SELECT id, key FROM version_blobs WHERE id IN ({marks}) AND refs <= 0", chunk
            ).fetchall()
        self._conn.executemany("DELETE FROM version_blobs WHERE id = ?", [(i,) for i, _ in dead])
        keys = [key for _, key in dead]
        if keys and self.backend.transactional:
            self.backend.delete(keys)
        return keys

    def _delete_after_commit(self, keys: Sequence[str]) -> None:
        if keys and not self.backend.transactional:
            self.backend.delete(keys)

    def forget(self, file_id: str) -> None:
        """Drop every version of a file (it was deleted) and the blobs nothing else uses."""
        self._delete_after_commit(self._forget_rows(file_id))

    async def forget_async(self, file_id: str) -> None:
        """:meth:`forget` with a network back end's deletions in a worker thread."""
        if self.backend.transactional:
            self.forget(file_id)
            return
        async with self._network:
            dead = self._forget_rows(file_id)
            if dead:
                await asyncio.to_thread(self.backend.delete, dead)

    def _forget_rows(self, file_id: str) -> builtins.list[str]:
        with self._transaction():
            numbers = [
                r[0]
                for r in self._conn.execute(
                    "SELECT number FROM versions WHERE file_id = ?", [file_id]
                )
            ]
            return self._drop_rows(file_id, numbers)

    def apply_retention(
        self, file_id: str, policy: RetentionPolicy, now: datetime | None = None
    ) -> builtins.list[int]:
        """Thin a file's automatic versions by ``policy``; returns the numbers dropped.

        Who edited in a dropped version is not forgotten: its authors move to the next version
        kept, whose parent becomes the dropped one's parent.
        """
        dropped, dead = self._thin(file_id, policy, now)
        self._delete_after_commit(dead)
        return dropped

    async def apply_retention_async(
        self, file_id: str, policy: RetentionPolicy, now: datetime | None = None
    ) -> builtins.list[int]:
        """:meth:`apply_retention` with a network back end's deletions in a worker thread."""
        if self.backend.transactional:
            return self.apply_retention(file_id, policy, now)
        async with self._network:
            dropped, dead = self._thin(file_id, policy, now)
            if dead:
                await asyncio.to_thread(self.backend.delete, dead)
        return dropped

    def _thin(
        self, file_id: str, policy: RetentionPolicy, now: datetime | None
    ) -> tuple[builtins.list[int], builtins.list[str]]:
        with self._transaction():
            rows = [
                _row(r)
                for r in self._conn.execute(
                    f"SELECT {_COLUMNS} FROM versions WHERE file_id = ? ORDER BY number",
                    [file_id],
                )
            ]
            infos = [
                RowInfo(
                    number=v.number,
                    created=datetime.fromisoformat(v.created),
                    kind=v.kind,
                    labelled=v.label is not None,
                    pinned=v.pinned,
                )
                for v in rows
            ]
            drop = set(to_drop(infos, now or datetime.now(UTC), policy))
            if not drop:
                return [], []
            carried: builtins.list[Author] = []
            parent: str | None = None
            for v in rows:
                if v.number in drop:
                    if not carried:
                        parent = v.parent
                    carried.extend(v.authors)
                    continue
                if carried:
                    merged = _authors([*carried, *v.authors])
                    self._conn.execute(
                        "UPDATE versions SET authors = ?, parent = ? WHERE file_id = ?"
                        " AND number = ?",
                        [
                            json.dumps([{"id": a.id, "name": a.name} for a in merged]),
                            parent,
                            file_id,
                            v.number,
                        ],
                    )
                    carried = []
            dead = self._drop_rows(file_id, sorted(drop))
        return sorted(drop), dead

    # -- measuring -----------------------------------------------------------------------

    def size(self, file_id: str | None = None) -> StoreSize:
        """What the store holds (all files; ``file_id`` narrows the version counts)."""
        where, args = ("WHERE file_id = ?", [file_id]) if file_id else ("", [])
        versions, index_bytes = self._conn.execute(
            f"SELECT COUNT(*), COALESCE(SUM(LENGTH(cells)), 0) FROM versions {where}", args
        ).fetchone()
        blobs, raw, stored = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(raw_size), 0), COALESCE(SUM(stored_size), 0)"
            " FROM version_blobs"
        ).fetchone()
        return StoreSize(versions, blobs, raw, stored, index_bytes)
