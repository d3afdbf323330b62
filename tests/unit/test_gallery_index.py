"""The search index in a real SQLite database (in process): ranking, phrases, filters,
snippets, permissions inside the query, and incremental updates, renames and removals."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from collab_server.core.db import open_database
from collab_server.gallery import GalleryActivity, GalleryError, GalleryIndex, QueryError, Readable
from collab_server.gallery.index import acl_match, acl_token, acl_tokens, outermost_folders
from collab_server.gallery.query import parse_query

DAY = 86400.0
T0 = 1_780_000_000.0  # 2026-05-28


def nb(title: str | None, body: str = "", code: str = "", lang: str = "python") -> dict[str, Any]:
    cells: list[dict[str, Any]] = []
    if title is not None:
        cells.append({"cell_type": "markdown", "source": f"# {title}\n\n{body}", "id": "m"})
    elif body:
        cells.append({"cell_type": "markdown", "source": body, "id": "m"})
    if code:
        cells.append({"cell_type": "code", "source": code, "id": "c"})
    return {"cells": cells, "metadata": {"kernelspec": {"language": lang}}}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_database(tmp_path / "server.db")
    yield database
    database.conn.close()


@pytest.fixture
def index(db: sqlite_utils.Database) -> GalleryIndex:
    return GalleryIndex(db)


def paths(result: dict[str, Any]) -> list[str]:
    return [r["path"] for r in result["results"]]


ALL = Readable.everything()


def test_word_in_title_beats_same_word_in_body(index: GalleryIndex) -> None:
    index.upsert("b", "body.ipynb", nb("Weekly report", "We forecast sales by region and week."))
    index.upsert("t", "title.ipynb", nb("Forecast sales", "A report by region and week."))
    index.upsert("c", "code.ipynb", nb("Weekly numbers", "By region.", code="forecast = model()"))
    assert paths(index.search("forecast", ALL)) == ["title.ipynb", "body.ipynb", "code.ipynb"]


def test_phrases_need_adjacent_words(index: GalleryIndex) -> None:
    index.upsert("a", "a.ipynb", nb("Time series basics", "Resampling."))
    index.upsert("b", "b.ipynb", nb("A series of talks", "About time."))
    assert paths(index.search('"time series"', ALL)) == ["a.ipynb"]
    assert sorted(paths(index.search("time series", ALL))) == ["a.ipynb", "b.ipynb"]
    # Porter stemming: "plots" finds "plotting"
    index.upsert("p", "p.ipynb", nb("Plotting", "x"))
    assert paths(index.search("plots", ALL)) == ["p.ipynb"]


def test_boolean_operators(index: GalleryIndex) -> None:
    index.upsert("a", "a.ipynb", nb("Pandas plot"))
    index.upsert("b", "b.ipynb", nb("Pandas chart draft"))
    index.upsert("c", "c.ipynb", nb("Numpy chart"))
    assert sorted(paths(index.search("pandas (plot OR chart)", ALL))) == ["a.ipynb", "b.ipynb"]
    assert paths(index.search("pandas -draft", ALL)) == ["a.ipynb"]
    assert paths(index.search("chart NOT pandas", ALL)) == ["c.ipynb"]
    assert sorted(paths(index.search("-draft", ALL))) == ["a.ipynb", "c.ipynb"]


def test_filters(index: GalleryIndex, db: sqlite_utils.Database) -> None:
    activity = GalleryActivity(db)
    index.upsert("a", "a.ipynb", nb("Alpha", code="import pandas"), owner="ana", updated=T0)
    index.upsert("b", "b.ipynb", nb("Beta", code="import numpy"), owner="bob", updated=T0 + DAY)
    index.upsert("r", "r.ipynb", nb("Gamma", code="library(x)", lang="R"), owner="ana",
                 updated=T0 + 2 * DAY)  # fmt: skip
    activity.add_tag("a", "Finance", "ana")
    activity.add_tag("b", "finance", "bob")
    activity.add_tag("b", "draft", "bob")
    assert sorted(paths(index.search("tag:finance", ALL))) == ["a.ipynb", "b.ipynb"]
    assert paths(index.search("tag:finance -tag:draft", ALL)) == ["a.ipynb"]
    assert sorted(paths(index.search("owner:ana", ALL))) == ["a.ipynb", "r.ipynb"]
    assert paths(index.search("lang:R", ALL)) == ["r.ipynb"]
    assert paths(index.search("package:pandas", ALL)) == ["a.ipynb"]
    assert paths(index.search("updated:2026-05-29", ALL)) == ["b.ipynb"]
    assert paths(index.search("updated:>2026-05-28", ALL)) == ["r.ipynb", "b.ipynb"]  # newest 1st
    assert paths(index.search("updated:<2026-05-29", ALL)) == ["a.ipynb"]
    # Tags are searchable text too, and follow tagging at once.
    assert paths(index.search("draft", ALL)) == ["b.ipynb"]
    activity.remove_tag("b", "draft")
    assert index.search("draft", ALL)["total"] == 0


def test_snippets_are_segments_with_marks(index: GalleryIndex) -> None:
    body = "Intro.\n\nSales <b>grew</b> in the north and fell in the south."
    index.upsert("a", "a.ipynb", nb("Report", body))
    result = index.search("north", ALL)["results"][0]
    assert [s["text"] for s in result["snippet"] if s["mark"]] == ["north"]
    # Notebook text is text: the page renders segments as text nodes, never as HTML.
    assert "Sales <b>grew</b> in the " in "".join(s["text"] for s in result["snippet"])


def make_tenants(index: GalleryIndex) -> None:
    index.upsert("t1", "team/one.ipynb", nb("Shared budget", "budget for the team"))
    index.upsert("t2", "team/sub/two.ipynb", nb("Budget details", "more budget"))
    index.upsert("s1", "secret/plan.ipynb", nb("Budget secret merger", "budget codename falcon"))
    index.upsert("x1", "team2/other.ipynb", nb("Budget of team two", "budget"))
    index.upsert("f1", "loose/file.ipynb", nb("Budget file", "budget"))


READERS = {
    "grants": Readable.grants(folders=["team"], paths=["loose/file.ipynb"]),
    "file_ids": Readable.file_ids(["t1", "t2", "f1"]),
    "callback": Readable.callback(lambda p: p.startswith("team/") or p == "loose/file.ipynb"),
    "many grants": Readable.grants(
        folders=["team", *(f"nothing{i}" for i in range(100))], paths=["loose/file.ipynb"]
    ),
    # Regression: many exact paths and no folder failed to fill the empty range table.
    "many paths": Readable.grants(
        paths=[
            "team/one.ipynb",
            "team/sub/two.ipynb",
            "loose/file.ipynb",
            *(f"nothing/{i}.ipynb" for i in range(100)),
        ]
    ),
}


@pytest.mark.parametrize("form", list(READERS))
def test_unreadable_notebooks_are_never_counted_ranked_or_snippeted(
    index: GalleryIndex, form: str
) -> None:
    make_tenants(index)
    readable = READERS[form]
    result = index.search("budget", readable)
    assert result["total"] == 3
    assert sorted(paths(result)) == ["loose/file.ipynb", "team/one.ipynb", "team/sub/two.ipynb"]
    text = repr(result)
    assert "secret" not in text and "falcon" not in text and "team2" not in text
    # Paging does not change the total; nothing unreadable slips into a later page.
    pages = [index.search("budget", readable, limit=1, offset=i) for i in range(4)]
    assert [p["total"] for p in pages] == [3, 3, 3, 3]
    assert [path for p in pages for path in paths(p)] == paths(result)
    # A word only an unreadable notebook has: nothing, not even a count.
    assert index.search("falcon", readable) == {"total": 0, "results": []}
    assert index.search("-nothingmatches", readable)["total"] == 3


def test_outermost_folders() -> None:
    # "a b" and "a-b" sort between "a" and "a/x": nesting is found by ancestors, not order.
    assert outermost_folders(["a/x", "a-b", "a", "a b", "a/x/y", "b/c"]) == [
        "a",
        "a b",
        "a-b",
        "b/c",
    ]


def test_many_nested_folder_grants(index: GalleryIndex) -> None:
    """With many grants (the temporary-table form), a nested folder whose siblings sort
    between it and its parent must not hide the parent's range."""
    make_tenants(index)
    index.upsert("tz", "team/zz.ipynb", nb("Budget zz"))
    folders = ["team", "team-b", "team b", "team/sub", *(f"nothing{i}" for i in range(100))]
    assert sorted(paths(index.search("budget", Readable.grants(folders=folders)))) == [
        "team/one.ipynb",
        "team/sub/two.ipynb",
        "team/zz.ipynb",
    ]


def test_acl_tokens_are_opaque_and_not_searchable(index: GalleryIndex) -> None:
    make_tenants(index)
    assert acl_tokens("team/sub/two.ipynb").split() == [
        acl_token("team"),
        acl_token("team/sub"),
        acl_token("team/sub/two.ipynb"),
    ]
    assert "team" not in acl_tokens("team/sub/two.ipynb")
    # A person's words only look at the text columns.
    assert index.search(acl_token("secret"), ALL)["total"] == 0
    assert index.search(f"budget -{acl_token('secret')}", ALL)["total"] == 5
    assert acl_match(Readable.grants(folders=["team", "team/sub"], paths=["x.ipynb"])) == (
        "acl : (" + " OR ".join(acl_token(g) for g in ("team", "x.ipynb")) + ")"
    )
    assert acl_match(Readable.everything()) is None
    assert acl_match(Readable.grants(paths=[f"p{i}" for i in range(100)])) is None


def test_readable_edge_cases(index: GalleryIndex) -> None:
    make_tenants(index)
    assert index.search("budget", Readable.grants())["total"] == 0
    assert index.search("budget", Readable.grants(folders=[""]))["total"] == 5  # root grant
    assert index.search("budget", Readable.grants(folders=["/team/"]))["total"] == 2
    # A grant covers its own path, as provider.path_covers says: a file passed as a folder.
    assert index.search("budget", Readable.grants(folders=["loose/file.ipynb"]))["total"] == 1

    def broken(path: str) -> bool:
        raise RuntimeError("provider down")

    assert index.search("budget", Readable.callback(broken))["total"] == 0  # denies, no error


def test_offset_past_the_end_still_reports_the_total(index: GalleryIndex) -> None:
    make_tenants(index)
    assert index.search("budget", ALL, limit=2, offset=10) == {"total": 5, "results": []}
    assert index.search("-nomatch", ALL, limit=2, offset=10) == {"total": 5, "results": []}


def test_bad_limits_and_queries(index: GalleryIndex) -> None:
    with pytest.raises(GalleryError, match="limit"):
        index.search("x", ALL, limit=0)
    with pytest.raises(GalleryError, match="offset"):
        index.search("x", ALL, offset=-1)
    with pytest.raises(QueryError, match="not closed"):
        index.search('"x', ALL)


def fts_rows(db: sqlite_utils.Database) -> int:
    return int(db.conn.execute("SELECT COUNT(*) FROM gallery_fts").fetchone()[0])


def test_save_updates_one_row(index: GalleryIndex, db: sqlite_utils.Database) -> None:
    index.upsert("a", "a.ipynb", nb("Old words", "apple"))
    index.upsert("b", "b.ipynb", nb("Other", "banana"))
    before = index.notebook("a")
    index.upsert("a", "a.ipynb", nb("New words", "cherry"))
    # The same row is rewritten in place: same rowid, no new rows anywhere.
    after = index.notebook("a")
    assert before is not None and after is not None and before["id"] == after["id"]
    assert fts_rows(db) == 2
    assert index.search("apple", ALL)["total"] == 0
    assert paths(index.search("cherry", ALL)) == ["a.ipynb"]


def test_code_change_keeps_previous_health(index: GalleryIndex) -> None:
    index.upsert("a", "a.ipynb", nb("A", code="x = 1"), now=T0)
    index.set_health("a", 0.8)
    index.upsert("a", "a.ipynb", nb("A, retitled", code="x = 1"), now=T0 + 10)
    facts = index.notebook("a")
    assert facts is not None and facts["previous_health"] is None  # text only: no change
    index.upsert("a", "a.ipynb", nb("A", code="x = 2"), now=T0 + 20)
    facts = index.notebook("a")
    assert facts is not None
    assert (facts["previous_health"], facts["code_changed"]) == (0.8, T0 + 20)


def test_rename_file_and_folder(index: GalleryIndex, db: sqlite_utils.Database) -> None:
    index.upsert("a", "team/untitled.ipynb", nb(None, "just prose"))
    index.upsert("b", "team/sub/b.ipynb", nb("Has a heading"))
    index.upsert("c", "team2/c.ipynb", nb("Sibling folder"))
    assert index.move("team/untitled.ipynb", "team/quarterly.ipynb") == 1
    assert paths(index.search("quarterly", ALL)) == ["team/quarterly.ipynb"]  # title follows
    assert index.search("untitled", ALL)["total"] == 0
    assert index.move("team", "archive/team") == 2
    assert sorted(paths(index.search("-zzz", ALL))) == [
        "archive/team/quarterly.ipynb", "archive/team/sub/b.ipynb", "team2/c.ipynb",
    ]  # fmt: skip
    assert paths(index.search("heading", ALL)) == ["archive/team/sub/b.ipynb"]
    # Permissions follow the new path at once (the SQL clause and the index's ACL tokens).
    assert index.search("heading", Readable.grants(folders=["team"]))["total"] == 0
    assert index.search("heading", Readable.grants(folders=["archive"]))["total"] == 1
    assert index.search("heading", Readable.grants(folders=["archive/team/sub"]))["total"] == 1
    # A move onto an existing notebook replaces it.
    assert index.move("team2/c.ipynb", "archive/team/sub/b.ipynb") == 1
    assert index.search("heading", ALL)["total"] == 0
    assert fts_rows(db) == 2


def test_remove_forgets_everything(index: GalleryIndex, db: sqlite_utils.Database) -> None:
    activity = GalleryActivity(db)
    index.upsert("a", "a.ipynb", nb("Gone soon", code="import pandas"))
    activity.add_tag("a", "x", "ana")
    activity.star("a", "ana")
    activity.record_view("a", "ana")
    assert index.remove("a")
    assert index.search("gone", ALL)["total"] == 0
    assert index.search("tag:x", ALL)["total"] == 0
    for table in ("gallery_fts", "gallery_packages", "gallery_tags", "gallery_stars",
                  "gallery_activity"):  # fmt: skip
        assert db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    assert not index.remove("a")


def test_a_file_replaced_at_the_same_path_replaces_the_row(index: GalleryIndex) -> None:
    index.upsert("old", "a.ipynb", nb("Old"))
    index.upsert("new", "a.ipynb", nb("New"))
    assert index.notebook("old") is None
    assert paths(index.search("new", ALL)) == ["a.ipynb"]


def test_random_queries_never_raise_sqlite_errors_through_the_index(index: GalleryIndex) -> None:
    make_tenants(index)
    rng = random.Random(7)
    alphabet = [*'ab "()-*:^', "AND", "OR", "NOT", "tag:", "owner:", "lang:", "package:",
                "updated:>", "2026-05-28", "budget", "\x00"]  # fmt: skip
    for _ in range(600):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        try:
            parse_query(text)
        except QueryError:
            continue
        try:
            index.search(text, READERS["grants"], limit=5)
        except sqlite3.Error as error:  # pragma: no cover - the failure we guard against
            pytest.fail(f"{text!r}: {error}")


def test_temporary_grant_tables_follow_each_caller(index: GalleryIndex) -> None:
    """The temporary tables are refilled only when the grants change: alternating callers
    each get their own answer."""
    make_tenants(index)
    many = [f"nothing{i}" for i in range(100)]
    team = Readable.grants(folders=["team", *many])
    secret = Readable.grants(folders=["secret", *many])
    ids_a, ids_b = Readable.file_ids(["t1"]), Readable.file_ids(["s1", "f1"])
    for _ in range(2):
        assert index.search("budget", team)["total"] == 2
        assert paths(index.search("budget", secret)) == ["secret/plan.ipynb"]
        assert index.search("budget", ids_a)["total"] == 1
        assert index.search("budget", ids_b)["total"] == 2


def test_an_indexed_database_passes_the_start_up_integrity_check(
    index: GalleryIndex, db: sqlite_utils.Database
) -> None:
    """The server refuses to start on a failed ``quick_check``: SQLite 3.40 reported false
    "NULL value in gallery_packages.file_id" errors for the first schema of this table (its
    key listed the columns in another order), so any restart after indexing failed."""
    index.upsert("f1", "a.ipynb", nb("A", code="import os\nimport pandas as pd"))
    assert db.conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]


def test_the_first_packages_table_is_rebuilt(tmp_path: Path) -> None:
    db = open_database(tmp_path / "old.sqlite")
    db.conn.execute(
        "CREATE TABLE gallery_packages (file_id TEXT NOT NULL, package TEXT NOT NULL, "
        "PRIMARY KEY (package, file_id)) WITHOUT ROWID"
    )
    db.conn.execute("INSERT INTO gallery_packages VALUES ('f1', 'os')")
    GalleryIndex(db).upsert("f1", "a.ipynb", nb("A", code="import os"))
    assert db.conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    assert db.conn.execute("SELECT package, file_id FROM gallery_packages").fetchall() == [
        ("os", "f1")
    ]


def test_catalog_pages_with_counts_inside_the_permission_filter(
    db: sqlite_utils.Database, index: GalleryIndex
) -> None:
    activity = GalleryActivity(db)
    for n, path in enumerate(["team/a.ipynb", "team/b.ipynb", "secret/s.ipynb"]):
        index.upsert(f"f{n}", path, nb(f"Title {n}"), owner="ana", updated=T0 + n)
    activity.record_view("f0", "bob")
    activity.record_view("f0", "carl")
    activity.record_run("f0", "bob")
    activity.star("f0", "bob")
    activity.add_tag("f0", "Sales", "ana")
    team = Readable.grants(folders=["team"])
    first = index.catalog(team, 1, 0)
    assert first["total"] == 2 and [n["path"] for n in first["notebooks"]] == ["team/b.ipynb"]
    row = index.catalog(team, 1, 1)["notebooks"][0]
    assert {k: row[k] for k in ("path", "title", "owner", "tags", "stars", "views", "runs",
                                "health_label", "last_run")} == {
        "path": "team/a.ipynb", "title": "Title 0", "owner": "ana", "tags": ["sales"],
        "stars": 1, "views": 2, "runs": 1, "health_label": "unknown", "last_run": None,
    }  # fmt: skip
    assert index.catalog(team, 10, 5) == {"total": 2, "notebooks": []}
    assert "secret" not in str(index.catalog(team, 10, 0))
    with pytest.raises(GalleryError):
        index.catalog(team, 0, 0)


def test_snippets_show_markdown_as_the_words_a_reader_sees(index: GalleryIndex) -> None:
    body = (
        "This notebook shows the **sales** of _Q3_ with `pandas`, see [our wiki](https://w.example/q3).\n\n"
        "## Totals by region\n\nThe `total_sales` column."
    )
    index.upsert("q", "q.ipynb", nb("Quarterly sales report", body))
    result = index.search("sales", ALL)["results"][0]
    text = " ".join("".join(s["text"] for s in result["snippet"]).split())  # as the page shows it
    assert "Quarterly sales report This notebook shows the sales of Q3 with pandas" in text
    for mark in ("#", "*", "`", "[", "](", "_Q3_"):
        assert mark not in text, (mark, text)
    assert [s["text"].lower() for s in result["snippet"] if s["mark"]][:2] == ["sales", "sales"]
    # Every word is still found: emphasised, in code ticks, a link's text, a heading, a name
    # with underscores.
    for query in ("q3", "pandas", "wiki", "totals region", "total_sales", '"sales of q3"'):
        assert paths(index.search(query, ALL)) == ["q.ipynb"], query
