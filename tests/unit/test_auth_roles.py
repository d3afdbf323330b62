"""Role and action decisions of the built-in providers (collab_server.auth.provider)."""

from __future__ import annotations

import pytest

from collab_server.auth import (
    ACTIONS,
    ROLE_ACTIONS,
    decide_by_roles,
    implied_actions,
    implies,
    path_covers,
    strongest_role,
)


@pytest.mark.parametrize(
    ("granted", "expected"),
    [
        ("admin", {"admin", "share", "write", "comment", "read"}),
        ("share", {"share", "write", "comment", "read"}),
        ("write", {"write", "comment", "read"}),
        ("comment", {"comment", "read"}),
        ("read", {"read"}),
        ("execute", {"execute", "read"}),
        ("unknown", {"unknown"}),
    ],
)
def test_implied_actions(granted: str, expected: set[str]) -> None:
    assert implied_actions(granted) == expected


def test_implies_never_goes_upwards_or_sideways() -> None:
    for action in ACTIONS:
        assert implies(action, action)
    assert implies("admin", "read") and implies("write", "comment")
    assert not implies("read", "comment") and not implies("comment", "write")
    assert not implies("write", "share") and not implies("share", "admin")
    # execute is granted per person, never by a role on a notebook
    assert not implies("admin", "execute") and not implies("execute", "write")


@pytest.mark.parametrize(
    ("granted", "path", "covered"),
    [
        ("", "anything/below.ipynb", True),
        ("/", "a.ipynb", True),
        ("team-a", "team-a", True),
        ("team-a", "team-a/x.ipynb", True),
        ("/team-a/", "team-a/sub/x.ipynb", True),
        ("team-a", "/team-a/x.ipynb", True),
        ("team-a", "team-ab/x.ipynb", False),  # whole segments only
        ("team-a", "team", False),
        ("team-a/x.ipynb", "team-a", False),  # a grant below does not cover the folder
        ("a.ipynb", "a.ipynb.bak", False),
    ],
)
def test_path_covers(granted: str, path: str, covered: bool) -> None:
    assert path_covers(granted, path) is covered


def test_strongest_role_among_covering_grants() -> None:
    grants = [("", "viewer"), ("team", "editor"), ("team/x.ipynb", "commenter")]
    assert strongest_role(grants, "other.ipynb") == "viewer"
    assert strongest_role(grants, "team/x.ipynb") == "editor"  # stronger folder grant wins
    assert strongest_role(grants, "teamx/y.ipynb") == "viewer"
    assert strongest_role([("team", "owner"), ("", "editor")], "team/a") == "owner"
    assert strongest_role([("team", "owner")], "elsewhere") is None
    assert strongest_role([], "a") is None
    assert strongest_role([("", "superuser")], "a") is None  # unknown roles count for nothing


def test_roles_grant_their_action() -> None:
    assert ROLE_ACTIONS == {
        "viewer": "read",
        "commenter": "comment",
        "editor": "write",
        "owner": "share",
    }


def _decide(
    action: str,
    resource: str,
    role: str | None = None,
    *,
    is_admin: bool = False,
    may_execute: bool = False,
    leads: bool = False,
) -> bool:
    return decide_by_roles(
        action,
        resource,
        is_admin=is_admin,
        may_execute=may_execute,
        role_on=lambda path: role,
        leads_to_grant=lambda path: leads,
    )


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (None, set()),
        ("viewer", {"read"}),
        ("commenter", {"read", "comment"}),
        ("editor", {"read", "comment", "write"}),
        ("owner", {"read", "comment", "write", "share"}),
    ],
)
@pytest.mark.parametrize("kind", ["contents", "comments"])
def test_a_role_allows_exactly_what_it_implies(
    role: str | None, allowed: set[str], kind: str
) -> None:
    for action in ("read", "comment", "write", "share", "admin"):
        assert _decide(action, f"{kind}:a/b.ipynb", role) is (action in allowed), action


def test_admins_may_do_everything() -> None:
    for resource in ("contents:x", "comments:x", "kernels", "kernels:k1", "sessions", "server"):
        for action in ACTIONS:
            assert _decide(action, resource, None, is_admin=True)


def test_running_code_needs_the_execute_right() -> None:
    for resource in ("kernels", "kernels:k1", "sessions"):
        assert not _decide("read", resource, "owner")
        assert _decide("read", resource, None, may_execute=True)
        assert _decide("write", resource, None, may_execute=True)
    # Executing a notebook also needs to be able to read it.
    assert not _decide("execute", "contents:a.ipynb", "owner")
    assert not _decide("execute", "contents:a.ipynb", None, may_execute=True)
    assert _decide("execute", "contents:a.ipynb", "viewer", may_execute=True)


def test_server_resources() -> None:
    assert _decide("read", "server", None)
    assert not _decide("write", "server", "owner")
    assert not _decide("admin", "server", "owner")


def test_unknown_resource_kinds_are_refused() -> None:
    assert not _decide("read", "elsewhere:a", "owner")
    assert not _decide("read", "users", "owner")


def test_a_folder_that_leads_to_a_grant_may_only_be_listed() -> None:
    assert _decide("read", "contents:team", None, leads=True)
    assert not _decide("write", "contents:team", None, leads=True)
    assert not _decide("read", "comments:team", None, leads=True)
    assert not _decide("read", "contents:team", None, leads=False)
    assert not decide_by_roles(
        "read", "contents:team", is_admin=False, may_execute=False, role_on=lambda p: None
    )


def test_the_role_is_asked_for_the_resource_path() -> None:
    asked: list[str] = []

    def role_on(path: str) -> str | None:
        asked.append(path)
        return "editor" if path == "team/a.ipynb" else None

    assert decide_by_roles(
        "write", "contents:team/a.ipynb", is_admin=False, may_execute=False, role_on=role_on
    )
    assert not decide_by_roles(
        "read", "comments:team/b.ipynb", is_admin=False, may_execute=False, role_on=role_on
    )
    assert asked == ["team/a.ipynb", "team/b.ipynb"]
