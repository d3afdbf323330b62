"""Recommendations with their reasons and exclusions (real SQLite, in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from collab_server.core.db import open_database
from collab_server.gallery import GalleryActivity, GalleryIndex, Readable, Recommender
from collab_server.gallery.recommend import tfidf_neighbours

DAY = 86400.0
NOW = 1_780_000_000.0


def nb(title: str, body: str = "") -> dict[str, Any]:
    return {"cells": [{"cell_type": "markdown", "source": f"# {title}\n\n{body}"}], "metadata": {}}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_database(tmp_path / "server.db")
    yield database
    database.conn.close()


NOTEBOOKS = {
    "x": ("team/x.ipynb", "Sales dashboard", "carl"),
    "y": ("team/y.ipynb", "Sales by region", "carl"),
    "s": ("secret/s.ipynb", "Merger falcon", "boss"),
    "own": ("team/own.ipynb", "Pandas time series forecasting", "ana"),
    "sim": ("team/sim.ipynb", "Forecasting time series with pandas", "bob"),
    "recent": ("team/recent.ipynb", "Recently seen", "bob"),
    "g": ("team/g.ipynb", "Group favourite", "dan"),
    "other": ("team/other.ipynb", "Gardening tips", "eve"),
}


@pytest.fixture
def recommender(db: sqlite_utils.Database) -> Recommender:
    index, activity = GalleryIndex(db), GalleryActivity(db)
    for file_id, (path, title, owner) in NOTEBOOKS.items():
        body = "Rolling means, seasonal decomposition." if file_id in ("own", "sim") else ""
        index.upsert(file_id, path, nb(title, body), owner=owner)
    views = {
        "ana": [("x", 2), ("recent", 3)],
        "bob": [("x", 1), ("y", 1), ("s", 1), ("recent", 1), ("own", 1)],
        "carl": [("x", 1), ("y", 1), ("s", 1)],
        "dan": [("g", 1)],
        "eve": [("g", 2)],
    }
    for person, seen in views.items():
        for file_id, days_ago in seen:
            activity.record_view(file_id, person, now=NOW - days_ago * DAY)
    recommender = Recommender(db)
    recommender.refresh_similar()
    return recommender


TEAM = Readable.grants(folders=["team"])


def test_reasons_and_exclusions(recommender: Recommender) -> None:
    recs = recommender.recommend(
        "ana", TEAM, group="data-team", group_members=["ana", "dan", "eve"], now=NOW
    )
    by_path = {r.path: r for r in recs}
    assert by_path["team/y.ipynb"].reason == "People who viewed Sales dashboard also viewed this"
    assert by_path["team/y.ipynb"].kind == "also_viewed"
    # y: 2 co-viewers (bob, carl); viewers of x = 3, of y = 2 → 2 / sqrt(3·2) = 0.8165
    assert by_path["team/y.ipynb"].score == pytest.approx(2 / 6**0.5, abs=1e-4)
    assert by_path["team/sim.ipynb"].reason == (
        "Similar to your notebook Pandas time series forecasting"
    )
    assert by_path["team/g.ipynb"].reason == (
        "Popular in your group data-team: used by 2 of its members in 30 days"
    )
    assert by_path["team/g.ipynb"].score == 1.0  # 2 of the 2 other members
    assert "secret/s.ipynb" not in by_path  # unreadable, though co-viewed
    assert "team/recent.ipynb" not in by_path  # ana viewed it 3 days ago
    assert "team/own.ipynb" not in by_path  # hers
    assert "team/x.ipynb" not in by_path  # viewed lately
    assert "falcon" not in repr(recs).lower() and "Merger" not in repr(recs)


def test_reason_never_names_an_unreadable_notebook(recommender: Recommender) -> None:
    # x (Sales dashboard) is not readable any more: y is explained by what ana can read.
    readable = Readable.grants(paths=["team/y.ipynb", "team/recent.ipynb"])
    recs = recommender.recommend("ana", readable, now=NOW)
    assert [(r.path, r.reason) for r in recs] == [
        ("team/y.ipynb", "People who viewed Recently seen also viewed this")
    ]


def test_similar_respects_permissions(recommender: Recommender) -> None:
    near = recommender.similar("own", Readable.everything())
    assert near[0].path == "team/sim.ipynb"
    assert near[0].score > 0.3
    assert recommender.similar("own", Readable.grants(folders=["secret"])) == []


def test_tfidf_neighbours_pure() -> None:
    docs = [
        ("a", "pandas dataframe groupby pandas"),
        ("b", "pandas dataframe merge"),
        ("c", "tomato garden soil"),
        ("d", "garden soil compost"),
    ]
    near = tfidf_neighbours(docs, top_k=2)
    assert near["a"][0][0] == "b" and near["c"][0][0] == "d"
    assert all(other != "c" for other, _ in near["a"])  # nothing in common: not listed


def test_similar_to_own_never_names_an_own_notebook_no_longer_readable(
    recommender: Recommender,
) -> None:
    # ana's own notebook was moved where she cannot read it: its title is not quoted.
    recs = recommender.recommend("ana", Readable.grants(paths=["team/sim.ipynb"]), now=NOW)
    assert "Pandas time series forecasting" not in repr(recs)


def test_groups_from_the_provider(recommender: Recommender) -> None:
    """Several groups at once (the ``Groups`` capability): each names itself in the reason."""
    recs = recommender.recommend(
        "ana", TEAM, groups={"data-team": ["ana", "dan", "eve"], "alone": ["ana"]}, now=NOW
    )
    group = [r for r in recs if r.kind == "group"]
    assert [r.path for r in group] == ["team/g.ipynb"]
    assert group[0].reason.startswith("Popular in your group data-team:")
