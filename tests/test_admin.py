"""The administration API (``/api/collab/admin/…``) against a real server with local accounts:
every route, refusals for everyone but administrators, the last administrator, one-time links,
and a disabled account's tokens and open sockets."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from support.notebooks import write_notebook
from support.server import ServerProcess
from support.yclient import YClient

PASSWORDS = {"root": "root-password-1", "olga": "olga-password-1", "pete": "pete-password-1"}


class Admin:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.tokens: dict[str, str] = {}

    def login(self, name: str, password: str | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.server.http_url}/api/collab/login",
            json={"username": name, "password": password or PASSWORDS[name]},
        )

    def client(self, who: str | None = "root") -> httpx.Client:
        headers = {"Authorization": f"token {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.server.http_url, headers=headers, timeout=20)

    def call(self, method: str, url: str, who: str | None = "root", **kw: Any) -> httpx.Response:
        with self.client(who) as c:
            return c.request(method, url, **kw)


@pytest.fixture(scope="module")
def admin(tmp_path_factory) -> Any:
    server = ServerProcess(tmp_path_factory.mktemp("admin"), provider=None, ready_token=None)
    for name, flags in (("root", ["--admin"]), ("olga", []), ("pete", ["--group", "crew"])):
        made = server.create_user(name, PASSWORDS[name], *flags)
        assert made.returncode == 0, made.stderr
    write_notebook(server.root, ["team a's plan"], "team-a/plan.ipynb")
    server.start()
    found = Admin(server)
    for name in PASSWORDS:
        r = found.login(name)
        assert r.status_code == 200, r.text
        found.tokens[name] = r.json()["token"]
    yield found
    server.stop()


ROUTES = [
    ("GET", "/api/collab/admin/users", None),
    ("POST", "/api/collab/admin/users", {"name": "mallory"}),
    ("GET", "/api/collab/admin/users/root", None),
    ("PATCH", "/api/collab/admin/users/olga", {"admin": True}),
    ("POST", "/api/collab/admin/users/root/reset-password", None),
    ("GET", "/api/collab/admin/users/root/access", None),
    ("GET", "/api/collab/admin/users/root/tokens", None),
    ("DELETE", "/api/collab/admin/users/root/tokens/0123456789abcdef", None),
    ("GET", "/api/collab/admin/groups", None),
    ("PUT", "/api/collab/admin/groups/crew/members/olga", None),
    ("DELETE", "/api/collab/admin/groups/crew/members/pete", None),
    ("GET", "/api/collab/admin/access?path=team-a", None),
    ("GET", "/api/collab/admin/grants/published:x", None),
    ("POST", "/api/collab/admin/grants/published:x", {"principal": "everyone", "role": "viewer"}),
    ("DELETE", "/api/collab/admin/grants/published:x?principal=everyone", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ROUTES, ids=[f"{m} {u}" for m, u, _ in ROUTES])
def test_only_administrators_get_an_answer(admin, method, url, body):
    r = admin.call(method, url, "olga", json=body)
    assert r.status_code == 403, r.text
    assert "administrators" in r.json()["message"]
    # Nobody learns whether an account exists: the same refusal for an unknown name.
    assert admin.call(method, url.replace("root", "nobody"), "olga", json=body).status_code == 403
    assert admin.call(method, url, None, json=body).status_code in (401, 403)


def test_the_user_list_says_what_an_administrator_needs(admin):
    r = admin.call("GET", "/api/collab/admin/users")
    assert r.status_code == 200, r.text
    users = {u["name"]: u for u in r.json()["users"]}
    assert {"root", "olga", "pete"} <= set(users)
    root, pete = users["root"], users["pete"]
    assert root["is_admin"] and root["may_execute"] and not root["disabled"]
    assert root["has_password"] and root["last_sign_in_at"] and root["created_at"]
    assert pete["groups"] == ["crew"] and not pete["is_admin"]
    assert not any("password_hash" in u for u in users.values())
    one = admin.call("GET", "/api/collab/admin/users/pete").json()["user"]
    assert one == pete
    assert admin.call("GET", "/api/collab/admin/users/nobody").status_code == 404
    assert admin.call("GET", "/api/collab/admin/users/Not%20A%20Name").status_code == 422


def test_creating_a_user_with_a_password(admin):
    body = {"name": "Nina", "display_name": "Nina N", "password": "nina-password-1",
            "groups": ["crew"], "may_execute": True}  # fmt: skip
    r = admin.call("POST", "/api/collab/admin/users", json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["link"] is None
    assert made["user"]["name"] == "nina" and made["user"]["display_name"] == "Nina N"
    assert made["user"]["groups"] == ["crew"] and made["user"]["may_execute"]
    assert made["user"]["has_password"] and not made["user"]["is_admin"]
    assert admin.login("nina", "nina-password-1").status_code == 200
    # Once only.
    again = admin.call("POST", "/api/collab/admin/users", json={"name": "nina"})
    assert again.status_code == 409 and "already exists" in again.json()["message"]


def test_a_user_without_a_password_gets_a_one_time_link(admin):
    r = admin.call("POST", "/api/collab/admin/users", json={"name": "lena"})
    assert r.status_code == 201, r.text
    link = r.json()["link"]
    assert link["expires_at"] and "?token=cs1_" in link["url"]
    assert not r.json()["user"]["has_password"]
    url = urlsplit(link["url"])
    assert f"{url.scheme}://{url.netloc}" == admin.server.http_url
    # Opened in a browser: signed in, and sent to choose a password first.
    page = {"Accept": "text/html", "Sec-Fetch-Site": "none"}
    opened = httpx.get(link["url"], headers=page, follow_redirects=False)
    assert opened.status_code == 302 and "/set-password" in opened.headers["Location"]
    assert "collab_session" in opened.headers.get("Set-Cookie", "")
    # Used up.
    assert httpx.get(link["url"], headers=page, follow_redirects=False).status_code == 401
    users = {u["name"]: u for u in admin.call("GET", "/api/collab/admin/users").json()["users"]}
    assert users["lena"]["last_sign_in_at"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"name": "Bad Name"}, 422, "lower-case"),
        ({"name": "x" * 65}, 422, "1–64"),
        ({"name": "ok", "groups": ["Bad Group"]}, 422, "group name"),
        ({"name": "ok", "groups": "crew"}, 422, "list"),
        ({"name": "ok", "admin": "yes"}, 422, "true or false"),
        ({"name": "ok", "password": "short"}, 400, "at least 8"),
        ({"name": 5}, 400, "string"),
        ({}, 400, "string"),
    ],
)
def test_bad_new_users_are_refused_with_a_reason(admin, body, status, words):
    r = admin.call("POST", "/api/collab/admin/users", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["message"]
    assert admin.call("GET", "/api/collab/admin/users/ok").status_code == 404


def test_reset_password_gives_a_link_and_ends_the_old_password_and_sessions(admin):
    assert admin.call("POST", "/api/collab/admin/users", json={
        "name": "rick", "password": "rick-password-1"}).status_code == 201  # fmt: skip
    session = admin.login("rick", "rick-password-1").json()["token"]
    r = admin.call("POST", "/api/collab/admin/users/rick/reset-password")
    assert r.status_code == 200, r.text
    body = r.json()
    assert "rick-password-1" not in r.text and "password" not in body
    assert not body["user"]["has_password"] and "?token=cs1_" in body["link"]["url"]
    assert admin.login("rick", "rick-password-1").status_code == 401
    with httpx.Client(base_url=admin.server.http_url) as c:
        assert c.get("/api/collab/me", headers={"Authorization": f"token {session}"}
                     ).status_code == 401  # fmt: skip
    # A second reset makes the first link useless.
    second = admin.call("POST", "/api/collab/admin/users/rick/reset-password").json()["link"]
    token = body["link"]["url"].split("token=")[1]
    with httpx.Client(base_url=admin.server.http_url) as c:
        assert c.get("/api/collab/me", headers={"Authorization": f"token {token}"}
                     ).status_code == 401  # fmt: skip
        fresh = second["url"].split("token=")[1]
        assert c.get("/api/collab/me", headers={"Authorization": f"token {fresh}"}
                     ).status_code == 200  # fmt: skip
    assert admin.call("POST", "/api/collab/admin/users/nobody/reset-password").status_code == 404


def test_administrators_are_made_and_unmade_but_never_the_last(admin):
    # root is the only administrator: they may neither step down nor be disabled.
    r = admin.call("PATCH", "/api/collab/admin/users/root", json={"admin": False})
    assert r.status_code == 409, r.text
    assert "last administrator" in r.json()["message"]
    r = admin.call("PATCH", "/api/collab/admin/users/olga", json={"admin": True})
    assert r.status_code == 200 and r.json()["user"]["is_admin"]
    assert r.json()["user"]["may_execute"]  # an administrator may do everything
    assert admin.call("GET", "/api/collab/admin/users", "olga").status_code == 200
    # Nobody disables their own account, even with another administrator left.
    for who in ("root", "olga"):
        url = f"/api/collab/admin/users/{who.upper()}"
        r = admin.call("PATCH", url, json={"disabled": True}, who=who)
        assert r.status_code == 409, r.text
        assert "your own account" in r.json()["message"]
        assert not admin.call("GET", f"/api/collab/admin/users/{who}").json()["user"]["disabled"]
    # Now there are two: olga may step down again.
    r = admin.call("PATCH", "/api/collab/admin/users/olga", json={"admin": False}, who="olga")
    assert r.status_code == 200 and not r.json()["user"]["is_admin"]
    assert admin.call("GET", "/api/collab/admin/users", "olga").status_code == 403
    # Bad changes.
    for body, status in (({"admin": "no"}, 422), ({"colour": "red"}, 422),
                         ({"display_name": "   "}, 422)):  # fmt: skip
        assert admin.call("PATCH", "/api/collab/admin/users/olga", json=body).status_code == status
    assert admin.call("PATCH", "/api/collab/admin/users/nobody", json={}).status_code == 404
    r = admin.call("PATCH", "/api/collab/admin/users/olga", json={"display_name": "Olga O"})
    assert r.json()["user"]["display_name"] == "Olga O"


async def test_a_disabled_user_is_shut_out_at_once_and_let_back_in(admin):
    server = admin.server
    assert admin.call("POST", "/api/collab/admin/users", json={
        "name": "dora", "password": "dora-password-1"}).status_code == 201  # fmt: skip
    session = admin.login("dora", "dora-password-1").json()["token"]
    with httpx.Client(base_url=server.http_url,
                      headers={"Authorization": f"token {session}"}) as c:  # fmt: skip
        api_token = c.post("/api/collab/tokens", json={"label": "script"}).json()["token"]
    assert admin.call("PUT", "/api/collab/admin/groups/team-a/members/dora").status_code == 200
    assert (admin.call("POST", "/api/collab/shares/team-a",
                       json={"principal": "group:team-a", "role": "editor"}).status_code
            == 201)  # fmt: skip
    client = await YClient.connect(server, "team-a/plan.ipynb", token=session)
    try:
        r = admin.call("PATCH", "/api/collab/admin/users/dora", json={"disabled": True})
        assert r.status_code == 200 and r.json()["user"]["disabled"]
        # Her open socket is closed at the next re-check of rights.
        assert await client.wait_closed(10) == 4403
    finally:
        await client.close()
    with httpx.Client(base_url=server.http_url) as c:
        for token in (session, api_token):
            me = c.get("/api/collab/me", headers={"Authorization": f"token {token}"})
            assert me.status_code == 401
    refused = admin.login("dora", "dora-password-1")
    assert refused.status_code == 401 and "disabled" in refused.json()["message"]
    # A wrong password does not learn that the account is disabled.
    assert "disabled" not in admin.login("dora", "wrong-password").json()["message"]
    # Enabled again: her tokens work again.
    r = admin.call("PATCH", "/api/collab/admin/users/dora", json={"disabled": False})
    assert r.status_code == 200 and not r.json()["user"]["disabled"]
    with httpx.Client(base_url=server.http_url) as c:
        me = c.get("/api/collab/me", headers={"Authorization": f"token {api_token}"})
        assert me.status_code == 200 and me.json()["identity"]["username"] == "dora"


async def test_an_administrator_sees_and_revokes_a_persons_tokens(admin):
    server = admin.server
    assert admin.call("POST", "/api/collab/admin/users", json={
        "name": "tara", "password": "tara-password-1"}).status_code == 201  # fmt: skip
    session = admin.login("tara", "tara-password-1").json()["token"]
    with httpx.Client(base_url=server.http_url,
                      headers={"Authorization": f"token {session}"}) as c:  # fmt: skip
        made = c.post("/api/collab/tokens", json={"label": "nightly job", "expires_in_days": 30})
    api_token = made.json()["token"]
    r = admin.call("GET", "/api/collab/admin/users/tara/tokens")
    assert r.status_code == 200, r.text
    tokens = r.json()["tokens"]
    assert {(t["kind"], t["label"]) for t in tokens} == {("api", "nightly job"),
                                                         ("session", "browser")}  # fmt: skip
    for t in tokens:
        assert set(t) == {"id", "label", "kind", "created_at", "expires_at", "last_used_at"}
    assert next(t for t in tokens if t["kind"] == "api")["expires_at"]
    # Neither secret nor hash is shown.
    for secret in (api_token, session):
        assert secret.split("_", 2)[2] not in r.text
    assert "hash" not in r.text
    api_id = next(t["id"] for t in tokens if t["kind"] == "api")
    session_id = next(t["id"] for t in tokens if t["kind"] == "session")

    # Another person's token id, an unknown id and an unknown user: 404.
    root_ids = [t["id"] for t in admin.call("GET", "/api/collab/admin/users/root/tokens").json()[
        "tokens"]]  # fmt: skip
    assert root_ids
    assert admin.call("DELETE", f"/api/collab/admin/users/tara/tokens/{root_ids[0]}"
                      ).status_code == 404  # fmt: skip
    assert admin.call("DELETE", "/api/collab/admin/users/tara/tokens/nope").status_code == 404
    assert admin.call("GET", "/api/collab/admin/users/nobody/tokens").status_code == 404
    assert admin.call("DELETE", f"/api/collab/admin/users/nobody/tokens/{api_id}"
                      ).status_code == 404  # fmt: skip

    # Revoking the session closes her open socket at the next re-check and refuses the token.
    assert admin.call("PUT", "/api/collab/admin/groups/team-a/members/tara").status_code == 200
    assert (admin.call("POST", "/api/collab/shares/team-a",
                       json={"principal": "group:team-a", "role": "editor"}).status_code
            == 201)  # fmt: skip
    client = await YClient.connect(server, "team-a/plan.ipynb", token=session)
    try:
        r = admin.call("DELETE", f"/api/collab/admin/users/tara/tokens/{session_id}")
        assert r.status_code == 204, r.text
        assert await client.wait_closed(10) == 4403
    finally:
        await client.close()
    with httpx.Client(base_url=server.http_url) as c:
        assert c.get("/api/collab/me", headers={"Authorization": f"token {session}"}
                     ).status_code == 401  # fmt: skip
        # The API token is untouched until it is revoked in turn.
        headers = {"Authorization": f"token {api_token}"}
        assert c.get("/api/collab/me", headers=headers).status_code == 200
        assert admin.call("DELETE", f"/api/collab/admin/users/tara/tokens/{api_id}"
                          ).status_code == 204  # fmt: skip
        assert c.get("/api/collab/me", headers=headers).status_code == 401
    assert admin.call("GET", "/api/collab/admin/users/tara/tokens").json()["tokens"] == []
    assert admin.call("DELETE", f"/api/collab/admin/users/tara/tokens/{api_id}"
                      ).status_code == 404  # fmt: skip
    assert f"root revoked a token of tara (id {api_id})" in server.log()


def test_groups_are_made_by_their_first_member_and_go_with_the_last(admin):
    r = admin.call("PUT", "/api/collab/admin/groups/readers/members/olga")
    assert r.status_code == 200, r.text
    assert r.json()["group"] == {"name": "readers", "members": ["olga"]}
    r = admin.call("PUT", "/api/collab/admin/groups/readers/members/pete")
    assert r.json()["group"]["members"] == ["olga", "pete"]
    groups = {g["name"]: g["members"] for g in
              admin.call("GET", "/api/collab/admin/groups").json()["groups"]}  # fmt: skip
    assert groups["readers"] == ["olga", "pete"] and "pete" in groups["crew"]
    users = {u["name"]: u for u in admin.call("GET", "/api/collab/admin/users").json()["users"]}
    assert "readers" in users["olga"]["groups"]
    for name in ("olga", "pete"):
        r = admin.call("DELETE", f"/api/collab/admin/groups/readers/members/{name}")
        assert r.status_code == 200, r.text
    assert "readers" not in {
        g["name"] for g in admin.call("GET", "/api/collab/admin/groups").json()["groups"]
    }
    assert admin.call("DELETE", "/api/collab/admin/groups/readers/members/olga").status_code == 404
    assert admin.call("PUT", "/api/collab/admin/groups/readers/members/nobody").status_code == 404
    assert admin.call("PUT", "/api/collab/admin/groups/Bad%20Group/members/olga").status_code == 422


def test_who_has_access_to_a_path_and_what_a_person_was_granted(admin):
    write_notebook(admin.server.root, ["the budget"], "finance/budget.ipynb")
    assert admin.call("PUT", "/api/collab/admin/groups/accounting/members/pete").status_code == 200
    for path, principal, role in (("finance", "group:accounting", "editor"),
                                  ("finance/budget.ipynb", "user:olga", "viewer"),
                                  ("finance", "signed-in", "viewer")):  # fmt: skip
        r = admin.call("POST", f"/api/collab/shares/{path}", json={"principal": principal,
                                                                  "role": role})  # fmt: skip
        assert r.status_code == 201, r.text
    r = admin.call("GET", "/api/collab/admin/access", params={"path": "finance/budget.ipynb"})
    assert r.status_code == 200, r.text
    report = r.json()
    grants = {g["principal"]: g for g in report["grants"]}
    assert (
        grants["group:accounting"]["inherited"] and grants["group:accounting"]["path"] == "finance"
    )
    assert grants["group:accounting"]["members"] == ["pete"]
    assert not grants["user:olga"]["inherited"] and grants["user:olga"]["role"] == "viewer"
    assert grants["signed-in"]["note"]
    people = {p["name"]: p for p in report["people"]}
    assert people["pete"]["role"] == "editor" and "group:accounting" in people["pete"]["via"]
    assert people["olga"]["role"] == "viewer"
    assert "root" in report["admins"] and "root" not in people
    # What pete was granted: through his group and through the audience signed-in.
    r = admin.call("GET", "/api/collab/admin/users/pete/access")
    assert r.status_code == 200, r.text
    mine = {(g["principal"], g["path"], g["role"]) for g in r.json()["grants"]}
    assert ("group:accounting", "finance", "editor") in mine
    assert ("signed-in", "finance", "viewer") in mine
    assert r.json()["user"]["name"] == "pete"
    assert admin.call("GET", "/api/collab/admin/users/nobody/access").status_code == 404
    missing = admin.call("GET", "/api/collab/admin/access", params={"path": "no/such"})
    assert missing.status_code == 404
    assert admin.call("GET", "/api/collab/admin/access",
                      params={"path": "../etc"}).status_code == 400  # fmt: skip


def test_published_copies_are_read_by_the_audiences_granted(admin):
    write_notebook(admin.server.root, ["results"], "team-a/results.ipynb")
    r = admin.call("POST", "/api/collab/publish/team-a/results.ipynb", json={})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    url = f"/api/collab/published/{pid}"
    assert admin.call("GET", url, "pete").status_code == 404
    r = admin.call("POST", f"/api/collab/admin/grants/published:{pid}",
                   json={"principal": "signed-in", "role": "viewer"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert [g["principal"] for g in r.json()["grants"]] == ["signed-in"]
    assert admin.call("GET", url, "pete").status_code == 200
    assert httpx.get(admin.server.http_url + url).status_code in (401, 403)  # nobody anonymous
    listed = admin.call("GET", f"/api/collab/admin/grants/published:{pid}").json()["grants"]
    assert listed[0]["role"] == "viewer" and listed[0]["granted_by"] == "root"
    # Only reading can be granted on a published copy, to someone who exists.
    for body, status in (({"principal": "signed-in", "role": "editor"}, 422),
                         ({"principal": "user:nobody", "role": "viewer"}, 404),
                         ({"principal": "someone", "role": "viewer"}, 400)):  # fmt: skip
        r = admin.call("POST", f"/api/collab/admin/grants/published:{pid}", json=body)
        assert r.status_code == status, r.text
    r = admin.call("POST", "/api/collab/admin/grants/contents:x", json={
        "principal": "signed-in", "role": "viewer"})  # fmt: skip
    assert r.status_code == 422
    r = admin.call("DELETE", f"/api/collab/admin/grants/published:{pid}",
                   params={"principal": "signed-in"})  # fmt: skip
    assert r.status_code == 204
    assert admin.call("GET", url, "pete").status_code == 404
    assert admin.call("DELETE", f"/api/collab/admin/grants/published:{pid}",
                      params={"principal": "signed-in"}).status_code == 404  # fmt: skip


def test_a_publisher_opens_their_own_copy_to_an_audience(admin):
    """Not only administrators: whoever may share the notebook chooses who reads its copy."""
    write_notebook(admin.server.root, ["olga's results"], "olga-lab/results.ipynb")
    r = admin.call("POST", "/api/collab/shares/olga-lab",
                   json={"principal": "user:olga", "role": "owner"})  # fmt: skip
    assert r.status_code == 201, r.text
    r = admin.call("POST", "/api/collab/publish/olga-lab/results.ipynb", "olga", json={})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    audience = f"/api/collab/published/{pid}/audience"
    assert admin.call("GET", audience, "olga").json()["audience"] == "restricted"
    assert admin.call("GET", f"/api/collab/published/{pid}", "pete").status_code == 404
    # pete can neither read nor open it; he is told no more than "no such copy".
    assert admin.call("PUT", audience, "pete", json={"audience": "everyone"}).status_code == 404
    r = admin.call("PUT", audience, "olga", json={"audience": "signed-in"})
    assert r.status_code == 200 and r.json()["audience"] == "signed-in", r.text
    assert admin.call("GET", f"/api/collab/published/{pid}", "pete").status_code == 200
    # ... but not the workspace notebook, and reading the copy is not choosing its readers.
    assert admin.call("GET", "/api/contents/olga-lab/results.ipynb", "pete").status_code == 403
    r = admin.call("PUT", audience, "pete", json={"audience": "restricted"})
    assert r.status_code == 403 and "share" in r.json()["message"]
    r = admin.call("PUT", audience, "olga", json={"audience": "the world"})
    assert r.status_code == 422 and "restricted" in r.json()["message"]
    assert admin.call("PUT", audience, "olga", json={"audience": "restricted"}).status_code == 200
    assert admin.call("GET", f"/api/collab/published/{pid}", "pete").status_code == 404

    # Withdrawing the copy: a reader may not; its publisher may; its grants go with it.
    assert admin.call("PUT", audience, "olga", json={"audience": "signed-in"}).status_code == 200
    r = admin.call("DELETE", f"/api/collab/published/{pid}", "pete")
    assert r.status_code == 403 and "share" in r.json()["message"]
    assert admin.call("DELETE", f"/api/collab/published/{pid}", "olga").status_code == 204
    for who in ("olga", "pete", "root"):
        assert admin.call("GET", f"/api/collab/published/{pid}", who).status_code == 404
    assert admin.call("GET", f"/api/collab/admin/grants/published:{pid}").json()["grants"] == []
    assert admin.call("DELETE", f"/api/collab/published/{pid}", "olga").status_code == 404
    # The workspace notebook and its versions stay.
    r = admin.call("GET", "/api/collab/versions/olga-lab/results.ipynb", "olga")
    assert r.status_code == 200 and r.json()["versions"]


def test_a_provider_without_the_capabilities_answers_501(server):
    # The shared test server runs a provider that knows its users but cannot manage them.
    with httpx.Client(base_url=server.http_url, timeout=20) as c:
        for token, status in (("admin-token", 501), ("alice-token", 403)):
            headers = {"Authorization": f"token {token}"}
            for method, url in (("GET", "/api/collab/admin/users"),
                                ("GET", "/api/collab/admin/groups"),
                                ("GET", "/api/collab/admin/access?path="),
                                ("GET", "/api/collab/admin/users/x/tokens"),
                                ("DELETE", "/api/collab/admin/users/x/tokens/y"),
                                ("POST", "/api/collab/admin/users/x/reset-password")):  # fmt: skip
                r = c.request(method, url, headers=headers)
                assert r.status_code == status, (token, url, r.text)
        r = c.get("/api/collab/admin/users", headers={"Authorization": "token admin-token"})
        assert "does not support managing users" in r.json()["message"]


def test_admin_actions_are_logged_without_secrets(admin):
    log = admin.server.log()
    assert "root created the account nina" in log
    assert "root reset the password of rick" in log
    for token in admin.tokens.values():
        assert token not in log
    for password in (*PASSWORDS.values(), "nina-password-1", "rick-password-1"):
        assert password not in log
    assert "cs1_" not in log


def test_an_app_is_opened_to_people_by_a_grant(admin):
    write_notebook(admin.server.root, ["x = 1"], "team-a/app.ipynb")
    r = admin.call("POST", "/api/collab/publish/team-a/app.ipynb", json={})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert admin.call("GET", f"/api/collab/apps/{pid}", "pete").status_code == 404
    r = admin.call("POST", f"/api/collab/admin/grants/apps:{pid}",
                   json={"principal": "user:pete", "role": "viewer"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert admin.call("GET", f"/api/collab/apps/{pid}", "pete").status_code == 200
    r = admin.call("POST", f"/api/collab/admin/grants/apps:{pid}",
                   json={"principal": "user:pete", "role": "owner"})  # fmt: skip
    assert r.status_code == 422 and "viewer, runner" in r.json()["message"]
