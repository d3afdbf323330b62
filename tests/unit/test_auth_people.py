"""The people directory: display names recorded as people are seen, written only when new or
changed, looked up many at once, the id when unknown (real SQLite, in process)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from collab_server.auth import people as people_module
from collab_server.auth.accounts import AccountsProvider
from collab_server.auth.people import PeopleDirectory, clean_name
from collab_server.core.db import open_database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_database(tmp_path / "server.db")
    yield database
    database.conn.close()


def rows(db: sqlite_utils.Database) -> dict[str, str]:
    return dict(db.conn.execute("SELECT id, display_name FROM people").fetchall())


async def test_a_name_is_recorded_once_and_rewritten_only_when_it_changes(db):
    people = PeopleDirectory(db)
    assert await people.seen("sub-7f3a", "Ann Lee") is True
    assert rows(db) == {"sub-7f3a": "Ann Lee"}
    before = db.conn.total_changes
    for _ in range(50):  # every request of hers: no write
        assert await people.seen("sub-7f3a", "Ann Lee") is False
    assert db.conn.total_changes == before
    assert await people.seen("sub-7f3a", "Ann Lee-Park") is True  # renamed at the provider
    assert rows(db) == {"sub-7f3a": "Ann Lee-Park"}
    assert db.conn.total_changes == before + 1


async def test_another_process_reads_the_stored_name_instead_of_writing_it_again(db, tmp_path):
    await PeopleDirectory(db).seen("sub-1", "Ann")
    other = open_database(tmp_path / "server.db")  # a restarted or second server process
    try:
        again = PeopleDirectory(other)
        before = other.conn.total_changes
        assert await again.seen("sub-1", "Ann") is False
        assert other.conn.total_changes == before
    finally:
        other.conn.close()


async def test_nothing_is_learned_from_an_empty_name_or_the_id_itself(db):
    people = PeopleDirectory(db)
    await people.seen("sub-1", "Ann")
    # A token without a name claim: the id as its name never replaces the known name.
    for nameless in ("sub-1", "", "   ", None):
        assert await people.seen("sub-1", nameless) is False
    assert await people.seen("", "Nobody") is False
    assert rows(db) == {"sub-1": "Ann"}
    assert clean_name("x", "  Ann \n Lee ") == "Ann Lee"
    assert clean_name("x", "A" * 1000) == "A" * people_module.MAX_NAME


async def test_many_ids_are_named_in_one_query_and_unknown_ids_stand_for_themselves(db):
    people = PeopleDirectory(db)
    await people.seen("sub-1", "Ann")
    await people.seen("sub-2", "Bo")
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        names = await people.names(["sub-2", "sub-1", "sub-9", "sub-1", ""])
    finally:
        db.conn.set_trace_callback(None)
    assert names == {"sub-1": "Ann", "sub-2": "Bo", "sub-9": "sub-9"}
    assert len(statements) == 1
    assert await people.names([]) == {}


async def test_rows_get_a_name_beside_each_id_they_already_carry(db):
    people = PeopleDirectory(db)
    await people.seen("sub-1", "Ann")
    found: list[dict[str, Any]] = [
        {"path": "a.ipynb", "owner": "sub-1"},
        {"path": "b.ipynb", "owner": "sub-9"},
        {"path": "c.ipynb", "owner": ""},  # no owner known
        {"id": "p1", "publisher": "sub-1"},
    ]
    await people.add_names(found, "owner", "publisher")
    assert [r.get("owner_name") for r in found] == ["Ann", "sub-9", "", None]
    assert found[3]["publisher_name"] == "Ann" and "owner_name" not in found[3]


async def test_a_busy_database_costs_the_write_never_the_request(db, tmp_path, monkeypatch):
    monkeypatch.setattr(people_module, "WRITE_BOUND", 0.05)
    people = PeopleDirectory(db)
    holder = sqlite3.connect(tmp_path / "server.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        assert await people.seen("sub-1", "Ann") is False
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert rows(db) == {}
    assert await people.seen("sub-1", "Ann") is True  # the next request records it
    assert rows(db) == {"sub-1": "Ann"}


async def test_a_request_never_waits_for_a_name_to_be_written(db, tmp_path):
    """With the write lock held by another process, noticing a new name returns at once (a
    request used to wait for the write's bound), look-ups name the person already, and the
    name is stored once the lock is free; one write per person at a time."""
    people = PeopleDirectory(db)
    holder = sqlite3.connect(tmp_path / "server.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        people.notice("sub-1", "Ann")  # synchronous: nothing to wait for
        people.notice("sub-1", "Ann")
        assert len(people._tasks) == 1
        assert await people.names(["sub-1"]) == {"sub-1": "Ann"}
        assert rows(db) == {}
    finally:
        holder.execute("COMMIT")
        holder.close()
    await people.settled()
    assert rows(db) == {"sub-1": "Ann"}
    people.notice("sub-1", "Ann")  # known: no task at all
    assert not people._tasks


class NamingProvider:
    """A provider with the optional ``DisplayNames`` capability (async, as some are)."""

    def __init__(self, names: dict[str, str], fail: bool = False) -> None:
        self.names, self.fail = names, fail
        self.asked: list[list[str]] = []

    def persistent_id(self, token: str) -> str | None:
        return None

    def allowed(self, token: str, action: str, resource: str) -> bool:
        return False

    async def display_names(self, person_ids: list[str]) -> dict[str, str]:
        self.asked.append(person_ids)
        if self.fail:
            raise RuntimeError("directory down")
        return {**self.names, "sub-stranger": "Not Asked About"}


async def test_the_providers_current_names_win_and_its_failure_costs_only_them(db):
    provider = NamingProvider({"sub-1": "Ann Renamed", "sub-3": "Cy"})
    people = PeopleDirectory(db, provider)
    await people.seen("sub-1", "Ann")
    await people.seen("sub-2", "Bo")
    names = await people.names(["sub-1", "sub-2", "sub-3", "sub-9"])
    assert names == {"sub-1": "Ann Renamed", "sub-2": "Bo", "sub-3": "Cy", "sub-9": "sub-9"}
    assert provider.asked == [["sub-1", "sub-2", "sub-3", "sub-9"]]  # only the ids named

    provider.fail = True
    assert await people.names(["sub-1", "sub-3"]) == {"sub-1": "Ann", "sub-3": "sub-3"}


async def test_local_accounts_name_people_who_never_signed_in(db, tmp_path):
    accounts = AccountsProvider(database_path=str(tmp_path / "server.db"))
    try:
        accounts.store.put_user("olga", None, display_name="Olga Owner")
        people = PeopleDirectory(db, accounts)
        assert await people.names(["olga", "ghost"]) == {"olga": "Olga Owner", "ghost": "ghost"}
        accounts.update_user("olga", display_name="Olga O. Owner")  # by an administrator
        assert (await people.names(["olga"]))["olga"] == "Olga O. Owner"
    finally:
        accounts.store.db.conn.close()


async def test_people_are_found_by_the_name_they_go_by(db):
    people = PeopleDirectory(db)
    await people.seen("sub-1", "Ann Lee")
    await people.seen("sub-2", "ann  lee")  # two people may share a name
    await people.seen("sub-3", "Bo")
    found = people.ids_named(["ANN LEE", " Bo ", "Nobody", "sub-3"])
    assert found == {"ANN LEE": ["sub-1", "sub-2"], " Bo ": ["sub-3"], "Nobody": [], "sub-3": []}
    # A name still being written is found too; a renamed person no longer by the old name.
    people.notice("sub-4", "Cy")
    assert people.ids_named(["cy"]) == {"cy": ["sub-4"]}
    await people.settled()
    await people.seen("sub-1", "Ann Lee-Park")
    assert people.ids_named(["Ann Lee"]) == {"Ann Lee": ["sub-2"]}
    # The look-up uses the name index rather than reading every person.
    plan = db.conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM people WHERE display_name = ? COLLATE NOCASE",
        ["x"],
    ).fetchall()
    assert "people_by_name" in str(plan)
