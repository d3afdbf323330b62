"""The gallery's search index: upserts after saves, renames, removals, and permission-aware
search, in the server's SQLite database.

This module owns ``gallery_notebooks``, ``gallery_fts`` and ``gallery_packages`` (see
:mod:`.schema`) and the search query. Notebooks are keyed by file id; one save rewrites one
row of each table (plus the notebook's package rows).

**Permissions are part of the SQL.** The caller says what the person may read as a
:class:`Readable`: everything (an admin), or folders and exact paths (the built-in accounts
provider grants by folder or file), or — for a custom provider — a set of file ids or a
per-path callback. The restriction sits in the ``WHERE`` clause next to the ``MATCH``, so the
total, the ranking, the page and the snippets are computed over readable notebooks only;
nothing is filtered after a page is cut, and an unreadable notebook is never counted.

Ranking is FTS5's ``bm25()`` with per-column weights (:data:`COLUMN_WEIGHTS`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from ..core.errors import Invalid
from .extract import MARKER_CHARS, NotebookFacts, extract, title_from_path
from .health import label_for
from .query import ParsedQuery, parse_query
from .schema import FTS_COLUMNS, ensure_schema, transaction

# bm25 weights, in FTS_COLUMNS order. nbgallery's Solr boosts title 50, description 10, owner
# 15. bm25 already rewards a hit in a short field (length normalisation), so a title of five
# words needs less boost than in Solr's TF-IDF; 10:4 keeps nbgallery's title:description
# ratio in spirit while letting a body that is *about* the word still rank. Tags are
# deliberate labels (5). Code is the noisiest text (identifiers, library calls), so it counts
# half as much as prose. Owner is a filter (owner:), not text.
COLUMN_WEIGHTS: dict[str, float] = {
    "title": 10.0,
    "description": 4.0,
    "markdown": 1.0,
    "code": 0.5,
    "tags": 5.0,
    "packages": 3.0,
    "acl": 0.0,  # permission tokens: they must match, they must not rank
}
_TEXT_COLUMNS = "{" + " ".join(c for c in FTS_COLUMNS if c != "acl") + "}"
_BM25 = "bm25(gallery_fts, " + ", ".join(str(COLUMN_WEIGHTS[c]) for c in FTS_COLUMNS) + ")"
_MARK_OPEN, _MARK_CLOSE = MARKER_CHARS[0], MARKER_CHARS[1]
SNIPPET_TOKENS = 16
MAX_LIMIT = 100
MAX_CATALOG = 1000  # notebooks per page of the bulk listing (GET /api/collab/notebooks)
# Above this many folders and paths, the grant list goes into a temporary table instead of
# bound parameters (SQLite allows 32766 variables, and a long OR-chain is evaluated per row).
_INLINE_GRANTS = 64
# Above this many grants, an OR of ACL tokens costs more than the SQL clause alone.
MAX_ACL_TERMS = 64


class GalleryError(Invalid, ValueError):
    """Bad input to the gallery (a bad tag, a limit out of range); the message is for people
    (an :class:`~collab_server.core.errors.Invalid`: a 400 wherever it escapes a handler)."""


def normalize_path(path: str) -> str:
    return path.strip("/")


@dataclass(frozen=True)
class Readable:
    """What one person may read, in the forms the SQL filter understands.

    Use one of the constructors: :meth:`everything`, :meth:`grants` (folders and exact paths),
    :meth:`file_ids` (a custom provider that can list what a person reads) or
    :meth:`callback` (a custom provider that can only answer yes/no for one path).
    """

    all: bool = False
    folders: frozenset[str] = frozenset()
    paths: frozenset[str] = frozenset()
    ids: frozenset[str] | None = None
    check: Callable[[str], bool] | None = None

    @classmethod
    def everything(cls) -> Readable:
        return cls(all=True)

    @classmethod
    def grants(cls, folders: Iterable[str] = (), paths: Iterable[str] = ()) -> Readable:
        folder_set = frozenset(normalize_path(f) for f in folders)
        if "" in folder_set:  # a grant on the root covers everything
            return cls(all=True)
        return cls(folders=folder_set, paths=frozenset(normalize_path(p) for p in paths))

    @classmethod
    def file_ids(cls, ids: Iterable[str]) -> Readable:
        return cls(ids=frozenset(ids))

    @classmethod
    def callback(cls, check: Callable[[str], bool]) -> Readable:
        return cls(check=check)


def acl_token(path: str) -> str:
    """The FTS token standing for a folder or file path: "zq" and decimal digits (no
    character the tokenizer splits on, no suffix the Porter stemmer would cut), from 60 bits
    of SHA-256, so folder names never appear in the index or in a query."""
    digest = hashlib.sha256(normalize_path(path).encode("utf-8")).hexdigest()[:15]
    return "zq" + str(int(digest, 16))


def acl_tokens(path: str) -> str:
    """A notebook's ``acl`` text: a token for every folder above it and for itself, so a
    grant on any of them (``provider.path_covers``) matches the token of the grant."""
    parts = normalize_path(path).split("/")
    return " ".join(acl_token("/".join(parts[:i])) for i in range(1, len(parts) + 1))


def acl_match(readable: Readable) -> str | None:
    """An FTS5 expression on the ``acl`` column true for what ``readable`` allows, or None
    when the index cannot say it that way (everything, file ids, a callback, too many
    grants: then only the SQL clause filters)."""
    if readable.all or readable.ids is not None or readable.check is not None:
        return None
    grants = set(outermost_folders(readable.folders)) | readable.paths
    if not grants or len(grants) > MAX_ACL_TERMS:
        return None
    return "acl : (" + " OR ".join(acl_token(g) for g in sorted(grants)) + ")"


def readable_clause(
    db: sqlite_utils.Database, readable: Readable, alias: str = "n"
) -> tuple[str, list[Any]]:
    """A SQL condition on ``{alias}`` (a ``gallery_notebooks`` row) true exactly for the
    notebooks ``readable`` allows, and its parameters. May fill a temporary table or register
    a function on the connection first: use the result right away, on the same connection."""
    if readable.all:
        return "1", []
    conn = db.conn
    if readable.check is not None:
        check = readable.check

        def allowed(path: str) -> int:
            # A provider that raises denies: sqlite would otherwise fail the whole search.
            try:
                return 1 if check(path) else 0
            except Exception:
                return 0

        conn.create_function("gallery_readable", 1, allowed)
        return f"gallery_readable({alias}.path)", []
    if readable.ids is not None:
        rows = [(i,) for i in readable.ids]
        _fill_temp(conn, "gallery_allowed_ids", rows, "file_id TEXT PRIMARY KEY")
        return f"{alias}.file_id IN (SELECT file_id FROM temp.gallery_allowed_ids)", []
    # Folder f covers the paths in ["f/", "f0"): "0" is the character after "/", so this is
    # an index range on gallery_notebooks.path, no LIKE (whose wildcards a folder name could
    # contain). A grant covers its own path too (``provider.path_covers``), so a provider's
    # grant paths can all be passed as folders without knowing which are files.
    ranges = [(f + "/", f + "0") for f in outermost_folders(readable.folders)]
    paths = sorted(readable.paths | readable.folders)
    if not ranges and not paths:
        return "0", []
    if len(ranges) + len(paths) > _INLINE_GRANTS:
        _fill_temp(conn, "gallery_allowed_ranges", ranges, "lo TEXT PRIMARY KEY, hi TEXT")
        _fill_temp(conn, "gallery_allowed_paths", [(p,) for p in paths], "path TEXT PRIMARY KEY")
        # The ranges are disjoint (nested folders were dropped), so only the range with the
        # greatest start at or before the path can hold it: one index probe per row, however
        # many folders.
        return (
            f"({alias}.path IN (SELECT path FROM temp.gallery_allowed_paths) OR"
            f" (SELECT r.hi FROM temp.gallery_allowed_ranges r WHERE r.lo <= {alias}.path"
            f" ORDER BY r.lo DESC LIMIT 1) > {alias}.path)"
        ), []
    parts: list[str] = []
    params: list[Any] = []
    for lo, hi in ranges:
        parts.append(f"({alias}.path >= ? AND {alias}.path < ?)")
        params += [lo, hi]
    if paths:
        parts.append(f"{alias}.path IN ({', '.join('?' * len(paths))})")
        params += paths
    return "(" + " OR ".join(parts) + ")", params


def outermost_folders(folders: Iterable[str]) -> list[str]:
    """The folders not inside another one of them, sorted (their ranges are disjoint)."""
    given = set(folders)
    kept = []
    for folder in sorted(given):
        parts = folder.split("/")
        if not any("/".join(parts[:i]) in given for i in range(1, len(parts))):
            kept.append(folder)
    return kept


def _fill_temp(conn: sqlite3.Connection, name: str, rows: list[tuple[Any, ...]], cols: str) -> None:
    """Make the temporary table ``name`` hold exactly ``rows``. The same person paging or
    refining a search passes the same grants again: a fingerprint kept next to the table
    skips the refill then."""
    rows = sorted(rows)
    fingerprint = hashlib.sha256(repr(rows).encode()).hexdigest()
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS gallery_temp_state"
        " (name TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)"
    )
    known = conn.execute(
        "SELECT fingerprint FROM temp.gallery_temp_state WHERE name = ?", [name]
    ).fetchone()
    if known and known[0] == fingerprint:
        return
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({cols})")
    conn.execute(f"DELETE FROM temp.{name}")
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        conn.executemany(f"INSERT INTO temp.{name} VALUES ({marks})", rows)
    conn.execute(
        "INSERT OR REPLACE INTO temp.gallery_temp_state (name, fingerprint) VALUES (?, ?)",
        [name, fingerprint],
    )


def snippet_segments(text: str) -> list[dict[str, Any]]:
    """Split SQLite's marked snippet into ``[{"text", "mark"}]`` segments: the page turns
    marked ones into ``<mark>`` with text nodes, so no notebook text is ever parsed as HTML."""
    segments: list[dict[str, Any]] = []
    marked = False
    buffer = ""
    for char in text:
        if char in (_MARK_OPEN, _MARK_CLOSE):
            if buffer:
                segments.append({"text": buffer, "mark": marked})
            buffer = ""
            marked = char == _MARK_OPEN
        else:
            buffer += char
    if buffer:
        segments.append({"text": buffer, "mark": marked})
    return segments


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


class GalleryIndex:
    """The search index over every notebook of the server."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        ensure_schema(db)

    # ---- writing ------------------------------------------------------------------------

    def upsert(
        self,
        file_id: str,
        path: str,
        notebook: dict[str, Any],
        *,
        owner: str = "",
        updated: float | None = None,
        now: float | None = None,
    ) -> NotebookFacts:
        """Index (or re-index after a save) one notebook; one row per table."""
        path = normalize_path(path)
        facts = extract(notebook, path)
        with transaction(self.db) as conn:
            self._upsert(conn, file_id, path, facts, owner, updated, now)
        return facts

    def upsert_many(
        self,
        notebooks: Iterable[tuple[str, str, dict[str, Any], str, float]],
        batch: int = 100,
    ) -> int:
        """Bulk (re)build: ``(file_id, path, notebook, owner, updated)`` rows, a commit per
        ``batch``. Reading and extracting happen before each write transaction: the rooms
        write to the same database, and holding its lock while notebooks are parsed would
        stall their broadcasts."""
        count = 0
        pending: list[tuple[str, str, NotebookFacts, str, float]] = []

        def flush() -> None:
            with transaction(self.db) as conn:
                for file_id, path, facts, owner, updated in pending:
                    self._upsert(conn, file_id, path, facts, owner, updated, None)
            pending.clear()

        for file_id, path, nb, owner, updated in notebooks:
            path = normalize_path(path)
            pending.append((file_id, path, extract(nb, path), owner, updated))
            count += 1
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
        return count

    def _upsert(
        self,
        conn: sqlite3.Connection,
        file_id: str,
        path: str,
        facts: NotebookFacts,
        owner: str,
        updated: float | None,
        now: float | None,
    ) -> None:
        now = time.time() if now is None else now
        updated = now if updated is None else updated
        # A row left at this path by another id (a file replaced outside the server) goes.
        stale = conn.execute(
            "SELECT file_id FROM gallery_notebooks WHERE path = ? AND file_id != ?",
            [path, file_id],
        ).fetchone()
        if stale:
            self._remove(conn, stale[0])
        row = conn.execute(
            "SELECT id, code_hash, health, code_changed, previous_health"
            " FROM gallery_notebooks WHERE file_id = ?",
            [file_id],
        ).fetchone()
        tags = " ".join(
            t
            for (t,) in conn.execute(
                "SELECT tag FROM gallery_tags WHERE file_id = ? ORDER BY tag", [file_id]
            )
        )
        fts_values = [
            facts.title, facts.description, facts.markdown, facts.code, tags,
            " ".join(facts.packages),
            acl_tokens(path),
        ]  # fmt: skip
        if row is None:
            cursor = conn.execute(
                "INSERT INTO gallery_notebooks (file_id, path, owner, language, title,"
                " title_from_name, description, updated, code_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [file_id, path, owner, facts.language, facts.title, int(facts.title_from_name),
                 facts.description, updated, facts.code_hash],
            )  # fmt: skip
            rowid = cursor.lastrowid
            conn.execute(
                "INSERT INTO gallery_fts (rowid, title, description, markdown, code, tags,"
                " packages, acl) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [rowid, *fts_values],
            )
        else:
            rowid, old_hash, health, code_changed, previous_health = row
            if old_hash and old_hash != facts.code_hash:
                # The code changed: health so far described other code. Keep it as the
                # "previous" score the 7-day blend starts from (health.py).
                previous_health, code_changed = health, now
            conn.execute(
                "UPDATE gallery_notebooks SET path = ?, owner = ?, language = ?, title = ?,"
                " title_from_name = ?, description = ?, updated = ?, code_hash = ?,"
                " code_changed = ?, previous_health = ? WHERE id = ?",
                [path, owner, facts.language, facts.title, int(facts.title_from_name),
                 facts.description, updated, facts.code_hash, code_changed, previous_health,
                 rowid],
            )  # fmt: skip
            conn.execute(
                "UPDATE gallery_fts SET title = ?, description = ?, markdown = ?, code = ?,"
                " tags = ?, packages = ?, acl = ? WHERE rowid = ?",
                [*fts_values, rowid],
            )
        conn.execute("DELETE FROM gallery_packages WHERE file_id = ?", [file_id])
        conn.executemany(
            "INSERT INTO gallery_packages (file_id, package) VALUES (?, ?)",
            [(file_id, p.lower()) for p in facts.packages],
        )

    def remove(self, file_id: str) -> bool:
        """Forget a deleted notebook and everything the gallery recorded about it."""
        with transaction(self.db) as conn:
            return self._remove(conn, file_id)

    def _remove(self, conn: sqlite3.Connection, file_id: str) -> bool:
        row = conn.execute(
            "SELECT id FROM gallery_notebooks WHERE file_id = ?", [file_id]
        ).fetchone()
        if row:
            conn.execute("DELETE FROM gallery_fts WHERE rowid = ?", [row[0]])
            conn.execute("DELETE FROM gallery_notebooks WHERE id = ?", [row[0]])
        for table in (
            "gallery_packages", "gallery_tags", "gallery_stars", "gallery_activity",
            "gallery_executions",
        ):  # fmt: skip
            conn.execute(f"DELETE FROM {table} WHERE file_id = ?", [file_id])
        conn.execute(
            "DELETE FROM gallery_similar WHERE file_id = ? OR other_id = ?", [file_id, file_id]
        )
        return row is not None

    def move(self, old_path: str, new_path: str) -> int:
        """Follow a rename or move of a notebook or a folder; returns the rows moved. A
        notebook without a heading is titled by its file name, so its title follows."""
        old, new = normalize_path(old_path), normalize_path(new_path)
        moved = 0
        with transaction(self.db) as conn:
            rows = conn.execute(
                "SELECT id, path, title_from_name FROM gallery_notebooks"
                " WHERE path = ? OR (path >= ? AND path < ?)",
                [old, old + "/", old + "0"],
            ).fetchall()
            for rowid, path, from_name in rows:
                target = new + path[len(old) :]
                occupant = conn.execute(
                    "SELECT file_id FROM gallery_notebooks WHERE path = ? AND id != ?",
                    [target, rowid],
                ).fetchone()
                if occupant:  # the move replaced a file: it is gone
                    self._remove(conn, occupant[0])
                conn.execute("UPDATE gallery_notebooks SET path = ? WHERE id = ?", [target, rowid])
                conn.execute(
                    "UPDATE gallery_fts SET acl = ? WHERE rowid = ?", [acl_tokens(target), rowid]
                )
                if from_name:
                    title = title_from_path(target)
                    conn.execute(
                        "UPDATE gallery_notebooks SET title = ? WHERE id = ?", [title, rowid]
                    )
                    conn.execute("UPDATE gallery_fts SET title = ? WHERE rowid = ?", [title, rowid])
                moved += 1
        return moved

    def set_health(self, file_id: str, score: float | None) -> None:
        """Store a notebook's current health score (computed by :mod:`.health`)."""
        with transaction(self.db) as conn:
            conn.execute(
                "UPDATE gallery_notebooks SET health = ? WHERE file_id = ?", [score, file_id]
            )

    def claim_owner(self, file_id: str, person: str) -> bool:
        """Record ``person`` as the owner of a notebook that has none yet (the first person
        seen saving it); an owner, once known, is kept."""
        if not person:
            return False
        with transaction(self.db) as conn:
            cursor = conn.execute(
                "UPDATE gallery_notebooks SET owner = ? WHERE file_id = ? AND owner = ''",
                [person, file_id],
            )
            return cursor.rowcount > 0

    # ---- reading ------------------------------------------------------------------------

    def notebook(self, file_id: str) -> dict[str, Any] | None:
        """The stored facts of one notebook (for the info endpoint), or None."""
        cursor = self.db.conn.execute(
            "SELECT * FROM gallery_notebooks WHERE file_id = ?", [file_id]
        )
        row = cursor.fetchone()
        if row is None:
            return None
        facts = dict(zip([c[0] for c in cursor.description], row, strict=True))
        facts["packages"] = [
            p for (p,) in self.db.conn.execute(
                "SELECT package FROM gallery_packages WHERE file_id = ? ORDER BY package",
                [file_id],
            )
        ]  # fmt: skip
        return facts

    def owner_of(self, file_id: str) -> str:
        return self.indexed_owner(file_id) or ""

    def indexed_owner(self, file_id: str) -> str | None:
        """The notebook's owner ("" for none), or None if it is not indexed: one small read
        (a save asks it every time)."""
        row = self.db.conn.execute(
            "SELECT owner FROM gallery_notebooks WHERE file_id = ?", [file_id]
        ).fetchone()
        return str(row[0]) if row else None

    def file_id_at(self, path: str) -> str | None:
        """The file id of the notebook indexed at ``path``, or None."""
        row = self.db.conn.execute(
            "SELECT file_id FROM gallery_notebooks WHERE path = ?", [normalize_path(path)]
        ).fetchone()
        return str(row[0]) if row else None

    def text_version(self) -> int:
        """The :data:`.extract.TEXT_VERSION` the indexed text was made with (1 before it was
        recorded)."""
        row = self.db.conn.execute(
            "SELECT value FROM gallery_meta WHERE key = 'text_version'"
        ).fetchone()
        return int(row[0]) if row else 1

    def set_text_version(self, version: int) -> None:
        with transaction(self.db) as conn:
            conn.execute(
                "INSERT INTO gallery_meta (key, value) VALUES ('text_version', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [str(version)],
            )

    def indexed(self) -> dict[str, tuple[str, float]]:
        """``{path: (file_id, updated)}`` of every indexed notebook (for the disk scan)."""
        rows = self.db.conn.execute("SELECT path, file_id, updated FROM gallery_notebooks")
        return {p: (f, u) for p, f, u in rows}

    def under(self, path: str) -> list[str]:
        """File ids of the notebooks at ``path`` or below it (a deleted folder)."""
        p = normalize_path(path)
        rows = self.db.conn.execute(
            "SELECT file_id FROM gallery_notebooks WHERE path = ? OR (path >= ? AND path < ?)",
            [p, p + "/", p + "0"],
        )
        return [f for (f,) in rows]

    def listing(
        self, file_ids: list[str], readable: Readable, limit: int = MAX_LIMIT
    ) -> list[dict[str, Any]]:
        """Result rows (as :meth:`search` gives them, without a snippet) for ``file_ids``
        that ``readable`` allows, in the given order."""
        if not file_ids:
            return []
        where, params = readable_clause(self.db, readable)
        marks = ", ".join("?" * len(file_ids))
        rows = self.db.conn.execute(
            "SELECT n.file_id, n.path, n.title, n.owner, n.stars, n.health, n.updated"
            f" FROM gallery_notebooks n WHERE n.file_id IN ({marks}) AND {where}",
            [*file_ids, *params],
        ).fetchall()
        order = {f: i for i, f in enumerate(file_ids)}
        rows.sort(key=lambda r: order[r[0]])
        tags = self._tags([r[0] for r in rows])
        return [
            {"path": path, "title": title, "snippet": [], "tags": tags.get(file_id, []),
             "owner": owner, "stars": stars, "health": health, "updated": iso(updated)}
            for file_id, path, title, owner, stars, health, updated in rows[:limit]
        ]  # fmt: skip

    def catalog(self, readable: Readable, limit: int, offset: int) -> dict[str, Any]:
        """Every notebook ``readable`` allows, most recently updated first, a page at a time,
        with the facts of its info: ``{"total", "notebooks": [{path, title, description,
        owner, language, tags, stars, views, runs, health, health_label, last_run,
        updated}]}``. One query for the page (the permission filter is in it, so nothing
        unreadable is counted), its counts from the activity tables as the info gives them;
        ``health`` is the score stored after the last runs."""
        if not 1 <= limit <= MAX_CATALOG or offset < 0:
            raise GalleryError(f"limit is 1 to {MAX_CATALOG}; offset is not negative")
        where, params = readable_clause(self.db, readable)
        rows = self.db.conn.execute(
            "WITH page AS MATERIALIZED (SELECT n.id, COUNT(*) OVER () AS total"
            f" FROM gallery_notebooks n WHERE {where}"
            " ORDER BY n.updated DESC, n.id LIMIT ? OFFSET ?)"
            " SELECT n.file_id, n.path, n.title, n.description, n.owner, n.language, n.health,"
            " n.updated, page.total,"
            " (SELECT COUNT(*) FROM gallery_stars s WHERE s.file_id = n.file_id),"
            " (SELECT COALESCE(SUM(a.views), 0) FROM gallery_activity a"
            "  WHERE a.file_id = n.file_id),"
            " (SELECT COALESCE(SUM(a.runs), 0) FROM gallery_activity a"
            "  WHERE a.file_id = n.file_id),"
            " (SELECT MAX(e.at) FROM gallery_executions e WHERE e.file_id = n.file_id)"
            " FROM page JOIN gallery_notebooks n ON n.id = page.id"
            " ORDER BY n.updated DESC, n.id",
            [*params, limit, offset],
        ).fetchall()
        if rows:
            total = rows[0][8]
        else:  # an empty page (or past the end): count on its own
            total = self.db.conn.execute(
                f"SELECT COUNT(*) FROM gallery_notebooks n WHERE {where}", params
            ).fetchone()[0]
        tags = self._tags([r[0] for r in rows])
        notebooks = [
            {"path": path, "title": title, "description": description, "owner": owner,
             "language": language, "tags": tags.get(file_id, []), "stars": stars,
             "views": views, "runs": runs, "health": health, "health_label": label_for(health),
             "last_run": iso(last_run) if last_run is not None else None,
             "updated": iso(updated)}
            for (file_id, path, title, description, owner, language, health, updated, _,
                 stars, views, runs, last_run) in rows
        ]  # fmt: skip
        return {"total": total, "notebooks": notebooks}

    def search(
        self,
        query: str | ParsedQuery,
        readable: Readable,
        *,
        limit: int = 20,
        offset: int = 0,
        owners: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, Any]:
        """Search what ``readable`` allows; ``{"total", "results": [...]}``, best first.

        ``owners`` maps an ``owner:`` filter's value to more ids it stands for (the people
        going by that name, from the people directory); the value itself always matches as
        an id.

        Raises :class:`~.query.QueryError` for a query that cannot be parsed and
        :class:`GalleryError` for a bad ``limit``/``offset``.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise GalleryError(f"limit must be between 1 and {MAX_LIMIT}.")
        if offset < 0:
            raise GalleryError("offset must not be negative.")
        parsed = parse_query(query) if isinstance(query, str) else query
        conn = self.db.conn
        where, params = self._conditions(parsed, readable, owners or {})
        match = None
        if parsed.match is not None:
            # The person's terms look at the text columns only; the permission, when the
            # index can say it, is one more term, so FTS5 intersects the two lists and
            # never visits (or ranks) a notebook outside the grants. The SQL clause in
            # ``where`` still checks every row: the ACL term makes it fast, not correct.
            match = f"{_TEXT_COLUMNS} : ({parsed.match})"
            acl = acl_match(readable)
            if acl is not None:
                match = f"({match}) AND {acl}"
        if match is not None:
            # bm25() cannot sit in a window query, so rank in a materialized CTE and count
            # over it: one MATCH pass yields the total and the page. The CTE carries only
            # (id, rank); the page's ~20 rows fetch their columns afterwards.
            sql = (
                f"WITH hits AS MATERIALIZED (SELECT n.id AS id, {_BM25} AS rank"
                f" FROM gallery_fts JOIN gallery_notebooks n ON n.id = gallery_fts.rowid"
                f" WHERE gallery_fts MATCH ? AND {where}),"
                f" page AS (SELECT id, rank, COUNT(*) OVER () AS total FROM hits"
                f" ORDER BY rank, id LIMIT ? OFFSET ?)"
                f" SELECT n.id, n.file_id, n.path, n.title, n.owner, n.stars, n.health,"
                f" n.updated, page.rank, page.total"
                f" FROM page JOIN gallery_notebooks n ON n.id = page.id ORDER BY page.rank, n.id"
            )
            args = [match, *params, limit, offset]
        else:
            sql = (
                "SELECT n.id, n.file_id, n.path, n.title, n.owner, n.stars, n.health,"
                " n.updated, 0 AS rank, COUNT(*) OVER () AS total"
                f" FROM gallery_notebooks n WHERE {where}"
                " ORDER BY n.updated DESC, n.id LIMIT ? OFFSET ?"
            )
            args = [*params, limit, offset]
        rows = conn.execute(sql, args).fetchall()
        if rows:
            total = rows[0][9]
        elif offset == 0:
            total = 0
        else:  # past the end: the window count has no row to ride on
            count_from = (
                "gallery_fts JOIN gallery_notebooks n ON n.id = gallery_fts.rowid"
                " WHERE gallery_fts MATCH ? AND "
                if match is not None
                else "gallery_notebooks n WHERE "
            )
            total = conn.execute(f"SELECT COUNT(*) FROM {count_from}{where}", args[:-2]).fetchone()[
                0
            ]
        snippets = self._snippets(parsed, [r[0] for r in rows])
        tags = self._tags([r[1] for r in rows])
        results = [
            {
                "path": path,
                "title": title,
                "snippet": snippets.get(rowid, []),
                "tags": tags.get(file_id, []),
                "owner": owner,
                "stars": stars,
                "health": health,
                "updated": iso(updated),
            }
            for rowid, file_id, path, title, owner, stars, health, updated, _, _ in rows
        ]
        return {"total": total, "results": results}

    def _conditions(
        self, parsed: ParsedQuery, readable: Readable, owners: Mapping[str, Sequence[str]]
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for f in parsed.filters:
            value: Any = f.value.lower()
            if f.field == "tag":
                sql = (
                    "EXISTS (SELECT 1 FROM gallery_tags t"
                    " WHERE t.file_id = n.file_id AND t.tag = ?)"
                )
            elif f.field == "package":
                sql = (
                    "EXISTS (SELECT 1 FROM gallery_packages p"
                    " WHERE p.file_id = n.file_id AND p.package = ?)"
                )
            elif f.field == "owner":
                sql = "n.owner IN (SELECT value FROM json_each(?))"
                value = json.dumps([f.value, *owners.get(f.value, ())])
            else:  # lang
                sql = "n.language = ?"
            clauses.append(f"NOT {sql}" if f.negated else sql)
            params.append(value)
        if parsed.updated_from is not None:
            clauses.append("n.updated >= ?")
            params.append(parsed.updated_from)
        if parsed.updated_before is not None:
            clauses.append("n.updated < ?")
            params.append(parsed.updated_before)
        if parsed.exclude is not None:
            clauses.append("n.id NOT IN (SELECT rowid FROM gallery_fts WHERE gallery_fts MATCH ?)")
            params.append(f"{_TEXT_COLUMNS} : ({parsed.exclude})")
        # Last, so the cheap filters above prune rows before a per-path callback runs.
        perm_sql, perm_params = readable_clause(self.db, readable)
        clauses.append(perm_sql)
        params += perm_params
        return " AND ".join(clauses), params

    def _snippets(self, parsed: ParsedQuery, rowids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Snippets for the rows of this page only (they were already permission-checked)."""
        if not rowids:
            return {}
        marks = ", ".join("?" * len(rowids))
        if parsed.match is None:
            rows = self.db.conn.execute(
                f"SELECT id, description FROM gallery_notebooks WHERE id IN ({marks})", rowids
            )
            return {r: [{"text": d, "mark": False}] if d else [] for r, d in rows}
        rows = self.db.conn.execute(
            f"SELECT rowid, snippet(gallery_fts, -1, ?, ?, '…', {SNIPPET_TOKENS})"
            f" FROM gallery_fts WHERE gallery_fts MATCH ? AND rowid IN ({marks})",
            # The plain expression (no column filter) is 2x faster here, and the rows were
            # already chosen; the ACL column holds only digits no search word matches.
            [_MARK_OPEN, _MARK_CLOSE, parsed.match, *rowids],
        )
        return {r: snippet_segments(s or "") for r, s in rows}

    def _tags(self, file_ids: list[str]) -> dict[str, list[str]]:
        if not file_ids:
            return {}
        out: dict[str, list[str]] = {}
        rows = self.db.conn.execute(
            f"SELECT file_id, tag FROM gallery_tags WHERE file_id IN"
            f" ({', '.join('?' * len(file_ids))}) ORDER BY tag",
            file_ids,
        )
        for file_id, tag in rows:
            out.setdefault(file_id, []).append(tag)
        return out
