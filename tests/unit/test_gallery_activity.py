"""Tags, stars, views, runs and the execution log (real SQLite, in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from collab_server.core.db import open_database
from collab_server.gallery import (
    Execution,
    GalleryActivity,
    GalleryError,
    GalleryIndex,
    Readable,
    normalize_tag,
)

DAY = 86400.0
T0 = 1_780_000_000.0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_database(tmp_path / "server.db")
    yield database
    database.conn.close()


@pytest.fixture
def gallery(db: sqlite_utils.Database) -> tuple[GalleryIndex, GalleryActivity]:
    index = GalleryIndex(db)
    for file_id, path in (("a", "team/a.ipynb"), ("b", "team/b.ipynb"), ("s", "secret/s.ipynb")):
        index.upsert(file_id, path, {"cells": [], "metadata": {}})
    return index, GalleryActivity(db)


@pytest.mark.parametrize(
    ("tag", "stored"),
    [(" Machine-Learning ", "machine-learning"), ("#C++", "c++"), ("v1.2", "v1.2")],
)
def test_tags_are_normalized(tag: str, stored: str) -> None:
    assert normalize_tag(tag) == stored


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("", "cannot be empty"),
        ("a b", "letters, digits"),
        ("x" * 41, "at most 40"),
        ("<script>", "letters, digits"),
    ],
)
def test_bad_tags_are_refused_with_the_rule(tag: str, message: str) -> None:
    with pytest.raises(GalleryError, match=message):
        normalize_tag(tag)


def test_tags_and_tag_counts_only_from_readable_notebooks(
    gallery: tuple[GalleryIndex, GalleryActivity],
) -> None:
    _, activity = gallery
    assert activity.add_tag("a", "finance", "ana")
    assert not activity.add_tag("a", "Finance", "bob")  # already there
    activity.add_tag("b", "finance", "ana")
    activity.add_tag("s", "merger-falcon", "boss")
    assert activity.tags_of("a") == ["finance"]
    team = Readable.grants(folders=["team"])
    assert activity.tag_counts(team) == [{"tag": "finance", "count": 2}]
    assert {t["tag"] for t in activity.tag_counts(Readable.everything())} == {
        "finance",
        "merger-falcon",
    }
    assert activity.remove_tag("a", "finance") and not activity.remove_tag("a", "finance")


def test_stars_count_once_per_person(gallery: tuple[GalleryIndex, GalleryActivity]) -> None:
    index, activity = gallery
    assert activity.star("a", "ana", now=T0) and not activity.star("a", "ana")
    activity.star("a", "bob")
    activity.star("b", "ana", now=T0 + 5)
    assert (index.notebook("a") or {})["stars"] == 2
    assert activity.has_starred("a", "bob") and not activity.has_starred("b", "bob")
    assert activity.unstar("a", "bob") and not activity.unstar("a", "bob")
    assert (index.notebook("a") or {})["stars"] == 1
    assert activity.starred_by("ana")[0] == "b"  # newest first


def test_views_and_runs_per_person_and_day(gallery: tuple[GalleryIndex, GalleryActivity]) -> None:
    index, activity = gallery
    activity.record_view("a", "ana", now=T0)
    activity.record_view("a", "ana", now=T0 + 60)  # same day: one row, two views
    activity.record_view("a", "bob", now=T0 + 2 * DAY)
    activity.record_run("a", "bob", now=T0 + 2 * DAY, count=3)
    activity.record_view("s", "boss", now=T0 + 2 * DAY)
    assert activity.counts("a") == {"views": 3, "runs": 3, "viewers": 2, "runners": 1, "stars": 0}
    assert activity.counts("a", since=T0 + DAY)["viewers"] == 1
    assert activity.person_counts("bob") == {"a": {"views": 1, "runs": 3}}
    assert (index.notebook("a") or {})["views"] == 3
    trending = activity.trending(Readable.grants(folders=["team"]), since=T0)
    assert [t["path"] for t in trending] == ["team/a.ipynb"]  # secret/s never listed


def test_execution_log_round_trip_and_pruning(
    gallery: tuple[GalleryIndex, GalleryActivity],
) -> None:
    _, activity = gallery
    rows = [
        Execution("c1", 0, "h1", "ana", "s1", True, T0),
        Execution("c2", 1, "h2", "ana", "s1", False, T0 + 40 * DAY),
    ]
    assert activity.record_executions("a", rows) == 2
    assert activity.executions("a", since=T0 - 1) == rows
    assert activity.prune_executions(before=T0 + DAY) == 1
    assert activity.executions("a", since=0) == rows[1:]
