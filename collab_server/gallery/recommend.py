"""Recommendations: co-viewing, text similarity and what a person's group uses.

This module owns ``gallery_similar`` (refreshed by :meth:`Recommender.refresh_similar`, the
analogue of nbgallery's nightly job, run in process) and the recommendation queries. Three
sources, each with a score in [0, 1] and a reason a person can read:

* "People who viewed X also viewed this": people who viewed a notebook the person viewed in
  the window, and what else they viewed; score = co-viewers / sqrt(viewers of X · viewers of
  the candidate) (cosine over viewer sets);
* "Similar to your notebook Y": TF-IDF cosine between the person's own notebooks and others
  (precomputed top neighbours; a small pure-Python TF-IDF, see :func:`tfidf_neighbours`);
* "Popular in your group G": the share of the group's other members who viewed or ran it.

A notebook recommended by several sources sums each source's best score (capped at 1) and
shows the strongest reason. Never recommended: a notebook the person cannot read (the same
SQL filter as search, :func:`~.index.readable_clause`), owns, or viewed in the last
``recent_days``.
A reason only names a notebook the person can read.

:meth:`Recommender.recommend` is :meth:`~Recommender.candidates` (the evidence: costly, may be
kept a while by the caller) then :meth:`~Recommender.rank` (one query that checks every
candidate and every notebook a reason names against today's permissions, ownership and recent
views: cheap, run on every request).
"""

from __future__ import annotations

import heapq
import json
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .activity import day_of
from .index import Readable, readable_clause
from .schema import ensure_schema, transaction

DAY = 86400.0
_WORD = re.compile(r"[a-z][a-z0-9_]{2,30}")
_STOP = frozenset(
    "the and for with this that from are was were you your use using into not but can will"  # noqa: SIM905
    " our its has have had all any one two out get set def return import none true false"
    " self print data".split()
)
MAX_TERMS_PER_DOC = 40  # a document's strongest terms make its vector; the rest add cost
QUERY_TERMS = 12  # neighbours are looked for through a document's 12 strongest terms
CHAMPIONS = 100  # and, per term, among the 100 documents where that term weighs most
MAX_GROUP_MEMBERS = 5000  # a group's members looked at (one SQL parameter each)


@dataclass(frozen=True)
class Recommendation:
    file_id: str
    path: str
    title: str
    score: float
    reason: str
    kind: str  # also_viewed / similar / group


# Stands for the title of the notebook a reason names, filled in by Recommender.rank (a title
# may change, and may only be named while the person can read it).
_BECAUSE = "\x00because\x00"


@dataclass(frozen=True)
class Candidate:
    """One piece of evidence for recommending ``file_id`` (before today's checks)."""

    file_id: str
    score: float
    reason: str  # with _BECAUSE where the title of ``because`` goes
    kind: str
    because: str = ""  # the file id of the notebook the reason names, if any


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def tfidf_neighbours(
    docs: Sequence[tuple[str, str]], top_k: int = 10
) -> dict[str, list[tuple[str, float]]]:
    """For ``(id, text)`` documents, each one's ``top_k`` most similar others by TF-IDF
    cosine (sublinear tf, smooth idf, L2-normalised; approximated through champion lists)."""
    n = len(docs)
    counts = [Counter(_terms(text)) for _, text in docs]
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    vectors: list[dict[str, float]] = []
    for c in counts:
        weights = {
            t: (1 + math.log(tf)) * (math.log((1 + n) / (1 + df[t])) + 1)
            for t, tf in c.items()
            if df[t] > 1  # a word in one document links it to nothing
        }
        strongest = heapq.nlargest(MAX_TERMS_PER_DOC, weights.items(), key=lambda kv: kv[1])
        norm = math.sqrt(sum(w * w for _, w in strongest)) or 1.0
        vectors.append({t: w / norm for t, w in strongest})
    # Champion lists (Manning et al., "Introduction to Information Retrieval", 7.1.3): a
    # term's posting list keeps only the documents where it weighs most, and a document
    # looks for neighbours only through its strongest terms. The scores are the cosine
    # restricted to those terms: approximate, and linear in the number of documents
    # instead of quadratic.
    postings: dict[str, list[tuple[int, float]]] = {}
    for i, vector in enumerate(vectors):
        for t, w in vector.items():
            postings.setdefault(t, []).append((i, w))
    for t, plist in postings.items():
        if len(plist) > CHAMPIONS:
            postings[t] = heapq.nlargest(CHAMPIONS, plist, key=lambda iw: iw[1])
    result: dict[str, list[tuple[str, float]]] = {}
    for i, vector in enumerate(vectors):
        scores: dict[int, float] = {}
        for t, w in list(vector.items())[:QUERY_TERMS]:
            for j, wj in postings.get(t, ()):
                if j != i:
                    scores[j] = scores.get(j, 0.0) + w * wj
        best = heapq.nlargest(top_k, scores.items(), key=lambda kv: kv[1])
        result[docs[i][0]] = [(docs[j][0], round(s, 6)) for j, s in best if s > 0]
    return result


class Recommender:
    """Recommendations for one person, from the gallery tables."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        ensure_schema(db)

    def refresh_similar(self, top_k: int = 10) -> int:
        """Recompute every notebook's nearest neighbours by text; returns the rows stored."""
        rows = self.db.conn.execute(
            "SELECT n.file_id, f.title, f.description, f.markdown, f.tags, f.packages, f.code"
            " FROM gallery_notebooks n JOIN gallery_fts f ON f.rowid = n.id"
        ).fetchall()
        # Title, description, tags and packages say what a notebook is about more than its
        # body: repeat them. Code is cut short: identifiers are mostly noise.
        docs = [
            (fid, f"{t} {t} {t} {d} {d} {m} {tags} {tags} {p} {p} {code[:2000]}")
            for fid, t, d, m, tags, p, code in rows
        ]
        neighbours = tfidf_neighbours(docs, top_k)
        with transaction(self.db) as conn:
            conn.execute("DELETE FROM gallery_similar")
            conn.executemany(
                "INSERT INTO gallery_similar (file_id, other_id, score) VALUES (?, ?, ?)",
                [(a, b, s) for a, near in neighbours.items() for b, s in near],
            )
        return sum(len(near) for near in neighbours.values())

    def similar(self, file_id: str, readable: Readable, limit: int = 10) -> list[Recommendation]:
        """Notebooks like ``file_id`` that ``readable`` allows, most similar first."""
        where, params = readable_clause(self.db, readable)
        rows = self.db.conn.execute(
            "SELECT n.file_id, n.path, n.title, s.score FROM gallery_similar s"
            " JOIN gallery_notebooks n ON n.file_id = s.other_id"
            f" WHERE s.file_id = ? AND {where} ORDER BY s.score DESC LIMIT ?",
            [file_id, *params, limit],
        )
        return [
            Recommendation(f, p, t, s, "Similar text, tags and packages", "similar")
            for f, p, t, s in rows
        ]

    def recommend(
        self,
        person: str,
        readable: Readable,
        *,
        group: str = "",
        group_members: Iterable[str] = (),
        groups: Mapping[str, Iterable[str]] | None = None,
        now: float | None = None,
        days: int = 30,
        recent_days: int = 14,
        limit: int = 20,
    ) -> list[Recommendation]:
        """Up to ``limit`` notebooks for ``person``, best first, each with its reason.
        ``groups`` maps each of the person's groups to its members (``group`` and
        ``group_members`` name one group)."""
        every = dict(groups or {})
        if group or group_members:
            every[group] = group_members
        found = self.candidates(
            person, readable, groups=every, now=now, days=days, recent_days=recent_days
        )
        return self.rank(person, readable, found, now=now, recent_days=recent_days, limit=limit)

    def candidates(
        self,
        person: str,
        readable: Readable,
        *,
        groups: Mapping[str, Iterable[str]] | None = None,
        now: float | None = None,
        days: int = 30,
        recent_days: int = 14,
    ) -> list[Candidate]:
        """The evidence for ``person`` from every source: the expensive half of
        :meth:`recommend`, safe to keep for a while because :meth:`rank` checks it again."""
        now = time.time() if now is None else now
        since, recent = day_of(now - days * DAY), day_of(now - recent_days * DAY)
        where, params = readable_clause(self.db, readable)
        # The candidate must be readable, not the person's own, not viewed lately.
        eligible = (
            f"{where} AND n.owner != ? AND n.file_id NOT IN (SELECT file_id FROM"
            " gallery_activity WHERE person = ? AND day >= ? AND views > 0)"
        )
        eligible_params = [*params, person, person, recent]
        found: list[Candidate] = []
        mine_where, mine_params = readable_clause(self.db, readable, alias="m")
        found += self._also_viewed(
            person, since, eligible, eligible_params, mine_where, mine_params
        )
        found += self._similar_to_own(person, eligible, eligible_params, mine_where, mine_params)
        for name, in_group in sorted((groups or {}).items()):
            members = sorted(set(in_group) - {person})[:MAX_GROUP_MEMBERS]
            if members:
                found += self._group(members, name, days, since, eligible, eligible_params)
        return found

    def rank(
        self,
        person: str,
        readable: Readable,
        found: Sequence[Candidate],
        *,
        now: float | None = None,
        recent_days: int = 14,
        limit: int = 20,
    ) -> list[Recommendation]:
        """``found`` checked against the database now and ranked: a candidate the person can
        no longer read, now owns or viewed lately is dropped, and so is evidence naming a
        notebook they can no longer read; paths and titles are today's."""
        now = time.time() if now is None else now
        recent = day_of(now - recent_days * DAY)
        ids = sorted({c.file_id for c in found} | {c.because for c in found if c.because})
        where, params = readable_clause(self.db, readable)
        rows = self.db.conn.execute(
            "SELECT n.file_id, n.path, n.title, n.owner != ? AND n.file_id NOT IN"
            " (SELECT file_id FROM gallery_activity WHERE person = ? AND day >= ? AND views > 0)"
            " FROM gallery_notebooks n WHERE n.file_id IN (SELECT value FROM json_each(?))"
            f" AND {where}",
            [person, person, recent, json.dumps(ids), *params],
        ).fetchall()
        readable_now = {f: (path, title) for f, path, title, _ in rows}
        eligible = {f for f, _, _, ok in rows if ok}
        # Per source, a notebook's best evidence; across sources, the evidence adds up.
        per_kind: dict[tuple[str, str], Recommendation] = {}
        for c in found:
            if c.file_id not in eligible or (c.because and c.because not in readable_now):
                continue
            path, title = readable_now[c.file_id]
            reason = c.reason
            if c.because:
                reason = reason.replace(_BECAUSE, readable_now[c.because][1])
            current = per_kind.get((c.file_id, c.kind))
            if current is None or c.score > current.score:
                per_kind[(c.file_id, c.kind)] = Recommendation(
                    c.file_id, path, title, c.score, reason, c.kind
                )
        best: dict[str, Recommendation] = {}
        totals: dict[str, float] = {}
        for (file_id, _), rec in per_kind.items():
            totals[file_id] = totals.get(file_id, 0.0) + rec.score
            if file_id not in best or rec.score > best[file_id].score:
                best[file_id] = rec
        ranked = sorted(best.values(), key=lambda r: (-totals[r.file_id], r.path))[:limit]
        return [
            Recommendation(r.file_id, r.path, r.title, round(min(1.0, totals[r.file_id]), 4),
                           r.reason, r.kind)
            for r in ranked
        ]  # fmt: skip

    def _also_viewed(
        self,
        person: str,
        since: str,
        eligible: str,
        eligible_params: list[Any],
        mine_where: str,
        mine_params: list[Any],
    ) -> list[Candidate]:
        sql = f"""
        WITH mine AS (
            SELECT DISTINCT a.file_id, m.title FROM gallery_activity a
            JOIN gallery_notebooks m ON m.file_id = a.file_id
            WHERE a.person = ? AND a.day >= ? AND a.views > 0 AND {mine_where}),
        pairs AS (
            SELECT a.file_id AS because, b.file_id AS candidate,
                   COUNT(DISTINCT a.person) AS together
            FROM gallery_activity a
            JOIN gallery_activity b ON b.person = a.person AND b.file_id != a.file_id
            WHERE a.file_id IN (SELECT file_id FROM mine) AND a.person != ?
              AND a.day >= ? AND a.views > 0 AND b.day >= ? AND b.views > 0
            GROUP BY a.file_id, b.file_id),
        -- Viewer counts only for the notebooks at hand (an index probe each), not for all.
        scored AS (
            SELECT p.because, p.candidate, p.together,
                (SELECT COUNT(DISTINCT person) FROM gallery_activity
                 WHERE file_id = p.because AND day >= ? AND views > 0) AS kx,
                (SELECT COUNT(DISTINCT person) FROM gallery_activity
                 WHERE file_id = p.candidate AND day >= ? AND views > 0) AS ky
            FROM pairs p)
        SELECT n.file_id, mine.file_id, s.together / sqrt(s.kx * s.ky) AS score
        FROM scored s
        JOIN gallery_notebooks n ON n.file_id = s.candidate
        JOIN mine ON mine.file_id = s.because
        WHERE {eligible}
        ORDER BY score DESC LIMIT 200
        """
        rows = self.db.conn.execute(
            sql,
            [person, since, *mine_params, person, since, since, since, since, *eligible_params],
        )
        return [
            Candidate(f, s, f"People who viewed {_BECAUSE} also viewed this", "also_viewed", b)
            for f, b, s in rows
        ]

    def _similar_to_own(
        self,
        person: str,
        eligible: str,
        eligible_params: list[Any],
        own_where: str,
        own_params: list[Any],
    ) -> list[Candidate]:
        # The reason quotes the own notebook's title: only one the person can still read
        # (``own_where`` is the permission clause on alias ``m``).
        rows = self.db.conn.execute(
            "SELECT n.file_id, m.file_id, s.score FROM gallery_notebooks m"
            " JOIN gallery_similar s ON s.file_id = m.file_id"
            " JOIN gallery_notebooks n ON n.file_id = s.other_id"
            f" WHERE m.owner = ? AND {own_where} AND {eligible}"
            " ORDER BY s.score DESC LIMIT 200",
            [person, *own_params, *eligible_params],
        )
        return [
            Candidate(f, s, f"Similar to your notebook {_BECAUSE}", "similar", own)
            for f, own, s in rows
        ]

    def _group(
        self,
        members: list[str],
        group: str,
        days: int,
        since: str,
        eligible: str,
        eligible_params: list[Any],
    ) -> list[Candidate]:
        marks = ", ".join("?" * len(members))
        rows = self.db.conn.execute(
            "SELECT n.file_id, COUNT(DISTINCT a.person) FROM gallery_activity a"
            " JOIN gallery_notebooks n ON n.file_id = a.file_id"
            f" WHERE a.person IN ({marks}) AND a.day >= ? AND {eligible}"
            " GROUP BY n.file_id ORDER BY COUNT(DISTINCT a.person) DESC LIMIT 200",
            [*members, since, *eligible_params],
        )
        label = f"your group {group}" if group else "your group"
        return [
            Candidate(f, people / len(members),
                      f"Popular in {label}: used by {people} of its members in {days} days",
                      "group")
            for f, people in rows
        ]  # fmt: skip

    def starter(
        self,
        person: str,
        readable: Readable,
        *,
        now: float | None = None,
        days: int = 30,
        recent_days: int = 14,
        limit: int = 20,
    ) -> list[Recommendation]:
        """Popular readable notebooks, for a person with too little history for the other
        sources: by distinct people who used them in ``days``, then stars; never the
        person's own or one they viewed lately. Each with a reason naming only counts."""
        now = time.time() if now is None else now
        since, recent = day_of(now - days * DAY), day_of(now - recent_days * DAY)
        where, params = readable_clause(self.db, readable)
        rows = self.db.conn.execute(
            "SELECT n.file_id, n.path, n.title, n.stars,"
            " (SELECT COUNT(DISTINCT a.person) FROM gallery_activity a"
            "  WHERE a.file_id = n.file_id AND a.day >= ?) AS people"
            f" FROM gallery_notebooks n WHERE {where} AND n.owner != ?"
            " AND n.file_id NOT IN (SELECT file_id FROM gallery_activity"
            "  WHERE person = ? AND day >= ? AND views > 0)"
            " ORDER BY people DESC, n.stars DESC, n.updated DESC, n.id LIMIT ?",
            [since, *params, person, person, recent, limit],
        ).fetchall()
        found = []
        for file_id, path, title, stars, people in rows:
            if people:
                reason = f"Popular: used by {people} {'person' if people == 1 else 'people'}"
                reason += f" in {days} days"
                score = min(1.0, 0.2 + 0.1 * people)
            elif stars:
                reason = f"Starred by {stars} {'person' if stars == 1 else 'people'}"
                score = min(1.0, 0.1 + 0.05 * stars)
            else:
                reason, score = "Recently updated", 0.05
            found.append(Recommendation(file_id, path, title, round(score, 4), reason, "popular"))
        return found
