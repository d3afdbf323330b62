"""The local accounts' audiences (``signed-in``, ``everyone``), grants on published copies,
the administration rules, and the schema upgrade that brought them (in-process, no server)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collab_server.auth import CAPABILITIES, has_capability
from collab_server.auth.accounts import MIGRATIONS, AccountsProvider, AccountStore
from collab_server.auth.cli import HELP, SUBCOMMANDS
from collab_server.core.errors import Conflict, Invalid, NotFound, Unprocessable


def provider(tmp_path: Path, anonymous: bool = False) -> AccountsProvider:
    made = AccountsProvider(database_path=str(tmp_path / "a.sqlite"), allow_anonymous=anonymous)
    made.store.put_user("root", None, admin=True)
    made.store.put_user("ann", None, groups=["team"])
    made.store.put_user("bob", None)
    return made


def token(p: AccountsProvider, name: str) -> str:
    return p.store.new_token(name, "api")[0]


def test_the_admin_capabilities_are_declared(tmp_path):
    p = provider(tmp_path)
    for name in ("user_admin", "group_admin", "access_report", "resource_sharing"):
        assert has_capability(p, CAPABILITIES[name]), name


def test_a_published_copy_is_read_by_whom_it_was_granted(tmp_path):
    p = provider(tmp_path)
    ann, bob, root = token(p, "ann"), token(p, "bob"), token(p, "root")
    resource = "published:abc"
    assert not p.allowed(ann, "read", resource) and p.allowed(root, "read", resource)
    p.add_resource_grant(resource, "group:team", "viewer", "root")
    assert p.allowed(ann, "read", resource) and not p.allowed(bob, "read", resource)
    assert not p.allowed(ann, "write", resource) and not p.allowed(ann, "share", resource)
    p.add_resource_grant(resource, "signed-in", "viewer", "root")
    assert p.allowed(bob, "read", resource)
    assert not p.allowed(bob, "read", "published:other")
    assert not p.allowed("", "read", resource)  # anonymous access is off
    grants = p.list_resource_grants(resource)
    assert {g["principal"] for g in grants} == {"group:team", "signed-in"}
    assert p.remove_resource_grant(resource, "signed-in")
    assert not p.allowed(bob, "read", resource)
    assert not p.remove_resource_grant(resource, "signed-in")


def test_everyone_includes_people_not_signed_in_only_when_anonymous_access_is_on(tmp_path):
    off = provider(tmp_path / "off")
    off.add_resource_grant("published:p", "everyone", "viewer", "root")
    assert off.allowed(token(off, "bob"), "read", "published:p")
    assert not off.allowed("", "read", "published:p")
    on = provider(tmp_path / "on", anonymous=True)
    assert not on.allowed("", "read", "published:p")
    on.add_resource_grant("published:p", "signed-in", "viewer", "root")
    assert not on.allowed("", "read", "published:p")  # signed-in is not everyone
    on.add_resource_grant("published:p", "everyone", "viewer", "root")
    assert on.allowed("", "read", "published:p")
    assert not on.allowed("", "read", "published:q")


def test_audiences_work_on_paths_too(tmp_path):
    p = provider(tmp_path, anonymous=True)
    bob = token(p, "bob")
    p.add_share("wiki", "signed-in", "editor", "root")
    assert p.allowed(bob, "write", "contents:wiki/page.ipynb")
    assert not p.allowed("", "read", "contents:wiki/page.ipynb")
    p.add_share("public", "everyone", "viewer", "root")
    assert p.allowed("", "read", "contents:public/a.ipynb")
    assert not p.allowed("", "write", "contents:public/a.ipynb")
    assert {"path": "wiki", "role": "editor"} in p.shared_with(bob)


@pytest.mark.parametrize(
    ("resource", "principal", "role", "error"),
    [
        ("published:abc", "signed-in", "editor", Unprocessable),  # only reading
        ("contents:abc", "signed-in", "viewer", Unprocessable),  # paths have their own API
        ("published:", "signed-in", "viewer", Unprocessable),
        ("published:a/b", "signed-in", "viewer", Unprocessable),
        ("published:abc", "user:nobody", "viewer", NotFound),
        ("published:abc", "group:nobody", "viewer", NotFound),
        ("published:abc", "user:anonymous", "viewer", Conflict),  # anonymous access is off
        ("published:abc", "somebody", "viewer", Invalid),
    ],
)
def test_bad_grants_on_published_copies(tmp_path, resource, principal, role, error):
    p = provider(tmp_path)
    with pytest.raises(error):
        p.add_resource_grant(resource, principal, role, "root")


def test_a_file_named_like_a_published_copy_grants_nothing_on_it(tmp_path):
    p = provider(tmp_path)
    p.add_share("published:abc", "user:bob", "owner", "root")
    assert p.allowed(token(p, "bob"), "read", "contents:published:abc")
    assert not p.allowed(token(p, "bob"), "read", "published:abc")


def test_the_last_administrator_stays(tmp_path):
    p = provider(tmp_path)
    with pytest.raises(Conflict):
        p.update_user("root", admin=False)
    with pytest.raises(Conflict):
        p.update_user("root", disabled=True)
    p.update_user("ann", admin=True)
    p.update_user("ann", disabled=True)  # a disabled administrator does not count
    with pytest.raises(Conflict):
        p.update_user("root", admin=False)
    p.update_user("ann", disabled=False)
    assert not p.update_user("root", admin=False)["is_admin"]


def test_a_disabled_account_cannot_use_its_tokens_or_links(tmp_path):
    p = provider(tmp_path)
    api = token(p, "bob")
    link = p.reset_password("bob")["token"]
    p.update_user("bob", disabled=True)
    assert p.persistent_id(api) is None and p.persistent_id(link) is None
    assert not p.allowed(api, "read", "server")
    p.update_user("bob", disabled=False)
    assert p.persistent_id(api) is None  # the reset ended it
    assert p.persistent_id(link) == "bob"
    session, must_set = p.redeem_link(link)
    assert must_set and p.persistent_id(session) == "bob"
    assert p.user_record("bob")["last_sign_in_at"]


def test_a_version_one_database_is_upgraded_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    MIGRATIONS[0](conn)
    conn.execute(
        "INSERT INTO auth_users (name, display_name, password_hash, is_admin, may_execute, "
        "created_at) VALUES ('ann', 'Ann', NULL, 1, 1, '2024-01-01T00:00:00Z')"
    )
    conn.execute("CREATE TABLE schema_versions (concern TEXT PRIMARY KEY, version INTEGER)")
    conn.execute("INSERT INTO schema_versions VALUES ('auth', 1)")
    conn.commit()
    conn.close()
    store = AccountStore(path)
    user = store.user("ann")
    assert user is not None and user["is_admin"] and not user["disabled"]
    assert user["last_sign_in_at"] is None and store.active_admins() == ["ann"]
    assert store.resource_grants() == []


def test_the_help_lists_every_subcommand():
    for name in SUBCOMMANDS:
        assert f"collab-server {name}" in HELP, name
