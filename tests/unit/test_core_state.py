"""Shared counters behind interfaces (collab_server.core.state) and the accounts store's use
of the core database helpers: schema versions, transactions, the one move rule."""

from __future__ import annotations

import sqlite3

import pytest

from collab_server.auth.accounts import MIGRATIONS, AccountStore
from collab_server.core.db import open_database
from collab_server.core.state import MemoryRevision


def test_memory_revision_moves_on_every_bump():
    revision = MemoryRevision()
    seen = {revision.current()}
    for _ in range(3):
        revision.bump()
        seen.add(revision.current())
    assert len(seen) == 4


def test_an_old_accounts_database_gets_a_schema_version_and_keeps_its_rows(tmp_path):
    path = tmp_path / "collab.sqlite"
    # A database as versions before schema versions left it: the tables, no version row.
    old = AccountStore(path)
    old.put_grant("user:ann", "a", "viewer", None)
    old.db.conn.execute("DELETE FROM schema_versions WHERE concern = 'auth'")
    old.db.conn.close()
    store = AccountStore(path)
    row = store.db.conn.execute(
        "SELECT version FROM schema_versions WHERE concern = 'auth'"
    ).fetchone()
    assert row == (len(MIGRATIONS),)
    assert store.grants_for(["user:ann"]) == [("a", "viewer")]


def test_grants_follow_a_move_by_whole_segments_and_bump_the_revision(tmp_path):
    store = AccountStore(tmp_path / "collab.sqlite")
    for path in ("a", "a/x.ipynb", "ab/y.ipynb"):
        store.put_grant("user:ann", path, "viewer", None)
    before = store.revision.current()
    store.move_grants("a", "b")
    assert sorted(p for p, _ in store.grants_for(["user:ann"])) == [
        "ab/y.ipynb",
        "b",
        "b/x.ipynb",
    ]
    assert store.revision.current() != before


def test_a_failed_user_write_leaves_nothing_behind(tmp_path):
    store = AccountStore(tmp_path / "collab.sqlite")
    store.db.conn.execute(
        "CREATE TRIGGER no_eve BEFORE INSERT ON auth_members WHEN NEW.user_name = 'eve' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        store.put_user("eve", None, groups=["team"])
    assert store.user("eve") is None  # the user row was rolled back with the membership


def test_a_locked_database_is_busy_not_a_wait(tmp_path):
    from collab_server.auth import Busy

    path = tmp_path / "collab.sqlite"
    store = AccountStore(path)
    other = open_database(path)
    other.conn.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Busy) as caught:
            store.put_grant("user:ann", "a", "viewer", None)
        assert caught.value.status == 503 and caught.value.retry_after == 1
    finally:
        other.conn.execute("ROLLBACK")
    store.put_grant("user:ann", "a", "viewer", None)
