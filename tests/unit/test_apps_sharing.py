"""Whom a run can be shared with: principals checked with a reason, the principals a caller
answers to, and names a provider can tell do not exist (real local accounts, in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collab_server.apps.service import known_principal
from collab_server.apps.sharing import check_principal, principals_of
from collab_server.auth.accounts import AccountsProvider
from collab_server.core.errors import Invalid, NotFound, Unprocessable


def test_principals_are_a_person_a_group_or_everyone_signed_in():
    assert check_principal(" user:ravi ", "rhea") == "user:ravi"
    assert check_principal("group:analysts", "rhea") == "group:analysts"
    assert check_principal("signed-in", "rhea") == "signed-in"
    for bad in (None, 5, "", "  ", ["user:x"]):
        with pytest.raises(Invalid):
            check_principal(bad, "rhea")
    for bad, words in [
        ("everyone", "signed-in people at most"),
        ("ravi", "is not a principal"),
        ("team:x", "is not a principal"),
        ("user:", "empty or not valid"),
        ("group:two words", "empty or not valid"),
        ("user:" + "x" * 201, "empty or not valid"),
        ("user:rhea", "yours already"),
    ]:
        with pytest.raises(Unprocessable, match=words):
            check_principal(bad, "rhea")


def test_a_caller_answers_to_themselves_their_groups_and_signed_in():
    assert principals_of("ann", True, ["team"]) == ["user:ann", "group:team", "signed-in"]
    assert principals_of("anonymous", False, []) == ["user:anonymous"]


async def test_local_accounts_tell_unknown_people_and_groups(tmp_path: Path):
    provider = AccountsProvider(database_path=str(tmp_path / "a.sqlite"))
    provider.store.put_user("ann", None, groups=["team"])
    provider.store.put_user("bo", None, groups=["others"])
    ann, _ = provider.store.new_token("ann", "api")
    await known_principal(provider, "user:ann", ann)
    await known_principal(provider, "group:team", ann)
    await known_principal(provider, "signed-in", ann)
    with pytest.raises(NotFound, match='no person "zed"'):
        await known_principal(provider, "user:zed", ann)
    # A group of one's own only; another's answers as one that does not exist.
    with pytest.raises(NotFound, match='not in a group "nobody"'):
        await known_principal(provider, "group:nobody", ann)
    with pytest.raises(NotFound, match='not in a group "others"'):
        await known_principal(provider, "group:others", ann)
    # A provider that cannot tell takes the name as given.
    await known_principal(object(), "user:zed", ann)
