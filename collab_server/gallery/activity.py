"""Tags, stars, views, runs and the execution log: what people do with notebooks.

This module owns writing and reading ``gallery_tags``, ``gallery_stars``,
``gallery_activity`` and ``gallery_executions`` (see :mod:`.schema`), and keeps the counters
and the ``tags`` text of a notebook's index row in step, in the same transaction. It checks
nothing about rights: the handler checks ``write`` before tagging and ``read`` before a star,
a view or a run; listings that span notebooks take a :class:`~.index.Readable` and filter in
SQL, so a tag used only on notebooks a person cannot read is never shown to them.

Views and runs are counted per (notebook, person, UTC day): enough for "trending", "people
who viewed X also viewed" and per-person history, at one row per person and notebook a day.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from .index import GalleryError, Readable, readable_clause
from .schema import ensure_schema, transaction

MAX_TAG_LENGTH = 40
_TAG = re.compile(r"^[a-z0-9][a-z0-9_.+#-]*$")


def normalize_tag(tag: str) -> str:
    """A tag as stored: lower case, no spaces; raises :class:`GalleryError` with the rule."""
    if not isinstance(tag, str):
        raise GalleryError("A tag must be a string.")
    cleaned = tag.strip().lower().removeprefix("#")  # "#finance" as people type it
    if not cleaned:
        raise GalleryError("A tag cannot be empty.")
    if len(cleaned) > MAX_TAG_LENGTH:
        raise GalleryError(f"A tag has at most {MAX_TAG_LENGTH} characters.")
    if not _TAG.match(cleaned):
        raise GalleryError(
            "A tag uses letters, digits and - _ . + # only, starting with a letter or digit"
            " (e.g. machine-learning)."
        )
    return cleaned


def day_of(timestamp: float) -> str:
    """The UTC day (``YYYY-MM-DD``) of a POSIX time."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Execution:
    """One cell execution, as the health formula reads it."""

    cell_id: str
    cell_index: int
    source_hash: str
    person: str
    session: str
    ok: bool
    at: float


class GalleryActivity:
    """Tags, stars, views, runs and executions in the server database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        ensure_schema(db)

    # ---- tags ---------------------------------------------------------------------------

    def add_tag(self, file_id: str, tag: str, person: str, now: float | None = None) -> bool:
        """Tag a notebook; False if it already had the tag."""
        tag = normalize_tag(tag)
        with transaction(self.db) as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO gallery_tags (file_id, tag, added_by, added_at)"
                " VALUES (?, ?, ?, ?)",
                [file_id, tag, person, time.time() if now is None else now],
            )
            if cursor.rowcount:
                self._refresh_fts_tags(conn, file_id)
            return cursor.rowcount > 0

    def remove_tag(self, file_id: str, tag: str) -> bool:
        tag = normalize_tag(tag)
        with transaction(self.db) as conn:
            cursor = conn.execute(
                "DELETE FROM gallery_tags WHERE file_id = ? AND tag = ?", [file_id, tag]
            )
            if cursor.rowcount:
                self._refresh_fts_tags(conn, file_id)
            return cursor.rowcount > 0

    @staticmethod
    def _refresh_fts_tags(conn: Any, file_id: str) -> None:
        # Tags are searchable text too; rewrite the one index row's tags column.
        conn.execute(
            "UPDATE gallery_fts SET tags = (SELECT COALESCE(group_concat(tag, ' '), '')"
            " FROM (SELECT tag FROM gallery_tags WHERE file_id = ? ORDER BY tag))"
            " WHERE rowid = (SELECT id FROM gallery_notebooks WHERE file_id = ?)",
            [file_id, file_id],
        )

    def tags_of(self, file_id: str) -> list[str]:
        return [
            t for (t,) in self.db.conn.execute(
                "SELECT tag FROM gallery_tags WHERE file_id = ? ORDER BY tag", [file_id]
            )
        ]  # fmt: skip

    def tag_counts(self, readable: Readable) -> list[dict[str, Any]]:
        """Every tag on a notebook ``readable`` allows, with how many such notebooks carry it."""
        where, params = readable_clause(self.db, readable)
        rows = self.db.conn.execute(
            "SELECT t.tag, COUNT(*) FROM gallery_tags t"
            f" JOIN gallery_notebooks n ON n.file_id = t.file_id WHERE {where}"
            " GROUP BY t.tag ORDER BY COUNT(*) DESC, t.tag",
            params,
        )
        return [{"tag": tag, "count": count} for tag, count in rows]

    # ---- stars --------------------------------------------------------------------------

    def star(self, file_id: str, person: str, now: float | None = None) -> bool:
        with transaction(self.db) as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO gallery_stars (file_id, person, starred_at)"
                " VALUES (?, ?, ?)",
                [file_id, person, time.time() if now is None else now],
            )
            self._refresh_stars(conn, file_id)
            return cursor.rowcount > 0

    def unstar(self, file_id: str, person: str) -> bool:
        with transaction(self.db) as conn:
            cursor = conn.execute(
                "DELETE FROM gallery_stars WHERE file_id = ? AND person = ?", [file_id, person]
            )
            self._refresh_stars(conn, file_id)
            return cursor.rowcount > 0

    @staticmethod
    def _refresh_stars(conn: Any, file_id: str) -> None:
        conn.execute(
            "UPDATE gallery_notebooks SET stars ="
            " (SELECT COUNT(*) FROM gallery_stars WHERE file_id = ?) WHERE file_id = ?",
            [file_id, file_id],
        )

    def starred_by(self, person: str) -> list[str]:
        """File ids ``person`` starred, newest first (the handler maps them to readable
        paths)."""
        return [
            f for (f,) in self.db.conn.execute(
                "SELECT file_id FROM gallery_stars WHERE person = ? ORDER BY starred_at DESC",
                [person],
            )
        ]  # fmt: skip

    def has_starred(self, file_id: str, person: str) -> bool:
        return (
            self.db.conn.execute(
                "SELECT 1 FROM gallery_stars WHERE file_id = ? AND person = ?", [file_id, person]
            ).fetchone()
            is not None
        )

    # ---- views and runs -----------------------------------------------------------------

    def record_view(self, file_id: str, person: str, now: float | None = None) -> None:
        self._record(file_id, person, now, views=1, runs=0)

    def record_run(
        self, file_id: str, person: str, now: float | None = None, count: int = 1
    ) -> None:
        self._record(file_id, person, now, views=0, runs=count)

    def _record(
        self, file_id: str, person: str, now: float | None, *, views: int, runs: int
    ) -> None:
        day = day_of(time.time() if now is None else now)
        with transaction(self.db) as conn:
            conn.execute(
                "INSERT INTO gallery_activity (file_id, person, day, views, runs)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (file_id, person, day) DO UPDATE SET"
                " views = views + excluded.views, runs = runs + excluded.runs",
                [file_id, person, day, views, runs],
            )
            conn.execute(
                "UPDATE gallery_notebooks SET views = views + ?, runs = runs + ? WHERE file_id = ?",
                [views, runs, file_id],
            )

    def counts(self, file_id: str, since: float | None = None) -> dict[str, int]:
        """Views, runs, distinct viewers and runners of one notebook (since a time), stars."""
        since_day = day_of(since) if since is not None else ""
        views, runs, viewers, runners = self.db.conn.execute(
            "SELECT COALESCE(SUM(views), 0), COALESCE(SUM(runs), 0),"
            " COUNT(DISTINCT CASE WHEN views > 0 THEN person END),"
            " COUNT(DISTINCT CASE WHEN runs > 0 THEN person END)"
            " FROM gallery_activity WHERE file_id = ? AND day >= ?",
            [file_id, since_day],
        ).fetchone()
        stars = self.db.conn.execute(
            "SELECT COUNT(*) FROM gallery_stars WHERE file_id = ?", [file_id]
        ).fetchone()[0]
        return {
            "views": views, "runs": runs, "viewers": viewers, "runners": runners, "stars": stars,
        }  # fmt: skip

    def person_counts(self, person: str, since: float | None = None) -> dict[str, dict[str, int]]:
        """``{file_id: {"views", "runs"}}`` for one person (since a time)."""
        since_day = day_of(since) if since is not None else ""
        rows = self.db.conn.execute(
            "SELECT file_id, SUM(views), SUM(runs) FROM gallery_activity"
            " WHERE person = ? AND day >= ? GROUP BY file_id",
            [person, since_day],
        )
        return {f: {"views": v, "runs": r} for f, v, r in rows}

    def daily(
        self,
        readable: Readable,
        *,
        since_day: str = "",
        person: str | None = None,
        file_id: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Views and runs per (day, notebook, person) on notebooks ``readable`` allows, from
        ``since_day`` (``YYYY-MM-DD``), one person's only when ``person`` is given; oldest day
        first, in a stable order so ``offset`` pages."""
        where, params = readable_clause(self.db, readable)
        clauses, args = ["a.day >= ?", where], [since_day, *params]
        if person is not None:
            clauses.append("a.person = ?")
            args.append(person)
        if file_id is not None:
            clauses.append("a.file_id = ?")
            args.append(file_id)
        rows = self.db.conn.execute(
            "SELECT a.day, n.path, a.person, a.views, a.runs FROM gallery_activity a"
            " JOIN gallery_notebooks n ON n.file_id = a.file_id"
            f" WHERE {' AND '.join(clauses)}"
            " ORDER BY a.day, n.path, a.person LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [
            {"day": day, "path": path, "person": who, "views": views, "runs": runs}
            for day, path, who, views, runs in rows
        ]

    def trending(self, readable: Readable, since: float, limit: int = 20) -> list[dict[str, Any]]:
        """Readable notebooks by distinct people who viewed or ran them since a time."""
        where, params = readable_clause(self.db, readable)
        rows = self.db.conn.execute(
            "SELECT n.file_id, n.path, COUNT(DISTINCT a.person), SUM(a.views), SUM(a.runs)"
            " FROM gallery_activity a JOIN gallery_notebooks n ON n.file_id = a.file_id"
            f" WHERE a.day >= ? AND {where} GROUP BY n.file_id"
            " ORDER BY COUNT(DISTINCT a.person) DESC, SUM(a.views) + SUM(a.runs) DESC LIMIT ?",
            [day_of(since), *params, limit],
        )
        return [
            {"file_id": f, "path": p, "people": people, "views": v, "runs": r}
            for f, p, people, v, r in rows
        ]

    # ---- execution log (health) ---------------------------------------------------------

    def record_executions(self, file_id: str, executions: Iterable[Execution]) -> int:
        rows = [
            (file_id, e.cell_id, e.cell_index, e.source_hash, e.person, e.session, int(e.ok),
             e.at)
            for e in executions
        ]  # fmt: skip
        with transaction(self.db) as conn:
            conn.executemany(
                "INSERT INTO gallery_executions (file_id, cell_id, cell_index, source_hash,"
                " person, session, ok, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def executions(self, file_id: str, since: float) -> list[Execution]:
        rows = self.db.conn.execute(
            "SELECT cell_id, cell_index, source_hash, person, session, ok, at"
            " FROM gallery_executions WHERE file_id = ? AND at >= ? ORDER BY at",
            [file_id, since],
        )
        return [Execution(c, i, h, p, s, bool(ok), at) for c, i, h, p, s, ok, at in rows]

    def last_run(self, file_id: str) -> float | None:
        """When code of the notebook last ran (the execution log), or None."""
        row = self.db.conn.execute(
            "SELECT MAX(at) FROM gallery_executions WHERE file_id = ?", [file_id]
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def prune_executions(self, before: float) -> int:
        """Drop executions older than the health window needs (keeps the table bounded)."""
        with transaction(self.db) as conn:
            return conn.execute("DELETE FROM gallery_executions WHERE at < ?", [before]).rowcount
