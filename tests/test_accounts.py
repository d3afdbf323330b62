"""The default provider, local accounts, against a real server: sign-in, cookies and XSRF,
tokens, sharing, tenant isolation, path tricks, revocation of open sockets, secrets in logs.

Two teams share the server: ``team-a`` (olga owns it, carl comments, vera views) and
``team-b`` (tess edits it through the group ``team-b``). Nobody but the admin sees both.
"""

from __future__ import annotations

import http.client
import os
import subprocess
from typing import Any

import httpx
import pytest
import websockets

from support.notebooks import write_notebook
from support.server import ServerProcess
from support.yclient import YClient, open_session, wait_until

PASSWORDS = {
    "root": "root-password-1",
    "olga": "olga-password-1",
    "carl": "carl-password-1",
    "vera": "vera-password-1",
    "tess": "tess-password-1",
    "lockme": "lockme-password-1",
}


def create_user(server: ServerProcess, name: str, *flags: str) -> subprocess.CompletedProcess:
    return server.create_user(name, PASSWORDS.get(name, "short"), *flags)


class Accounts:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.tokens: dict[str, str] = {}

    def login(self, name: str, password: str | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.server.http_url}/api/collab/login",
            json={"username": name, "password": password or PASSWORDS[name]},
        )

    def client(self, name: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.http_url,
            headers={"Authorization": f"token {self.tokens[name]}"},
            timeout=10,
        )

    def share(self, by: str, path: str, principal: str, role: str) -> httpx.Response:
        with self.client(by) as c:
            return c.post(f"/api/collab/shares/{path}", json={"principal": principal, "role": role})


@pytest.fixture(scope="module")
def accounts(tmp_path_factory) -> Any:
    server = ServerProcess(tmp_path_factory.mktemp("accounts"), provider=None, ready_token=None)
    assert create_user(server, "root", "--admin").returncode == 0
    for name in ("olga", "carl", "vera", "lockme"):
        assert create_user(server, name).returncode == 0
    assert create_user(server, "tess", "--group", "team-b").returncode == 0
    write_notebook(server.root, ["a secret of team a"], "team-a/plan.ipynb")
    write_notebook(server.root, ["a secret of team b"], "team-b/secret.ipynb")
    server.start()
    acc = Accounts(server)
    for name in ("root", "olga", "carl", "vera", "tess"):
        r = acc.login(name)
        assert r.status_code == 200, r.text
        acc.tokens[name] = r.json()["token"]
    assert acc.share("root", "team-a", "user:olga", "owner").status_code == 201
    assert acc.share("olga", "team-a", "user:carl", "commenter").status_code == 201
    assert acc.share("olga", "team-a", "user:vera", "viewer").status_code == 201
    assert acc.share("root", "team-b", "group:team-b", "editor").status_code == 201
    yield acc
    server.stop()


# -- signing in ----------------------------------------------------------------------------


def test_login_refuses_wrong_passwords_and_unknown_users_alike(accounts):
    wrong = accounts.login("olga", "not-her-password")
    unknown = accounts.login("nobody", "whatever-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"] == "Wrong user name or password"
    # An account made with a one-time link has no password yet: refused alike, so nobody
    # learns before signing in that it exists (or that it is an administrator's).
    for name, admin in (("newbie", False), ("newadmin", True)):
        with accounts.client("root") as root:
            r = root.post("/api/collab/admin/users", json={"name": name, "admin": admin})
        assert r.status_code == 201, r.text
        fresh = accounts.login(name, "a-guess-at-it")
        assert fresh.status_code == 401
        assert fresh.json()["message"] == "Wrong user name or password"


def test_login_sets_a_protected_session_cookie(accounts):
    r = accounts.login("vera")
    cookie = r.headers["set-cookie"]
    assert "collab_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure
    me = httpx.get(f"{accounts.server.http_url}/api/collab/me", cookies=r.cookies)
    assert me.status_code == 200 and me.json()["identity"]["username"] == "vera"


def test_login_bad_input(accounts):
    url = f"{accounts.server.http_url}/api/collab/login"
    assert httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"}
                      ).status_code == 400  # fmt: skip
    assert httpx.post(url, json={"username": 1, "password": "x"}).status_code == 400
    assert httpx.post(url, data={"username": "olga", "password": "x"}).status_code == 400


def test_repeated_failures_are_throttled(accounts):
    for _ in range(10):
        assert accounts.login("lockme", "wrong-password").status_code == 401
    locked = accounts.login("lockme")  # even the right password, for a while
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0


def test_token_on_a_page_signs_the_browser_in_and_leaves_the_address(accounts):
    url = f"{accounts.server.http_url}/?token={accounts.tokens['carl']}"
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302
    assert "token" not in r.headers["location"]
    assert "collab_session=" in r.headers["set-cookie"]


def test_token_on_any_page_opened_by_a_browser_is_taken_out_of_the_address(accounts):
    url = f"{accounts.server.http_url}/login?next=%2Fx&token={accounts.tokens['carl']}"
    r = httpx.get(url, headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == "/login?next=%2Fx"
    assert "collab_session=" in r.headers["set-cookie"]


def test_pages_send_people_without_a_session_to_the_login_page(accounts):
    r = httpx.get(f"{accounts.server.http_url}/", follow_redirects=False)
    assert r.status_code == 302 and "/login" in r.headers["location"]
    page = httpx.get(f"{accounts.server.http_url}/login")
    assert page.status_code == 200 and "Sign in" in page.text


def test_logout_ends_the_session(accounts):
    token = accounts.login("vera").json()["token"]
    headers = {"Authorization": f"token {token}"}
    base = accounts.server.http_url
    cookies = dict(accounts.login("vera").cookies)
    xsrf = httpx.get(f"{base}/login").cookies["_xsrf"]
    cookies["_xsrf"] = xsrf
    out = httpx.post(f"{base}/api/collab/logout", cookies=cookies, headers={"X-XSRFToken": xsrf})
    assert out.status_code == 200
    assert httpx.get(f"{base}/api/collab/me", cookies=cookies).status_code == 403
    # Another session of the same person is not affected.
    assert httpx.get(f"{base}/api/collab/me", headers=headers).status_code == 200


# -- cookies need XSRF protection; tokens in headers do not --------------------------------


def test_cookie_authenticated_writes_need_the_xsrf_token(accounts):
    base = accounts.server.http_url
    cookies = dict(accounts.login("olga").cookies)
    body = {"type": "directory"}
    refused = httpx.post(f"{base}/api/contents/team-a", json=body, cookies=cookies)
    assert refused.status_code == 403
    xsrf = httpx.get(f"{base}/login").cookies["_xsrf"]
    ok = httpx.post(
        f"{base}/api/contents/team-a",
        json=body,
        cookies={**cookies, "_xsrf": xsrf},
        headers={"X-XSRFToken": xsrf},
    )
    assert ok.status_code == 201, ok.text


async def test_cookie_websocket_from_another_site_is_refused(accounts):
    server = accounts.server
    r = await open_session(server.http_url, "team-a/plan.ipynb", accounts.tokens["olga"])
    room = f"{server.ws_url}/api/collaboration/room/json:notebook:{r.json()['fileId']}"
    cookies = dict(accounts.login("olga").cookies)
    cookie = f"collab_session={cookies['collab_session']}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            room, additional_headers={"Cookie": cookie, "Origin": "http://evil.example"}
        )
    assert refused.value.response.status_code == 403
    same_site = await websockets.connect(
        room, additional_headers={"Cookie": cookie, "Origin": server.http_url}
    )
    await same_site.close()


# -- personal API tokens ---------------------------------------------------------------------


def test_api_tokens_are_shown_once_listed_without_secret_and_revocable(accounts):
    with accounts.client("carl") as c:
        made = c.post("/api/collab/tokens", json={"label": "laptop", "expires_in_days": 30})
        assert made.status_code == 201
        token = made.json()["token"]
        listed = c.get("/api/collab/tokens").json()["tokens"]
        assert [t["label"] for t in listed] == ["laptop"]
        assert token not in str(listed)
        assert c.post("/api/collab/tokens", json={"expires_in_days": -1}).status_code == 400
    base = accounts.server.http_url
    auth = {"Authorization": f"token {token}"}
    assert httpx.get(f"{base}/api/collab/me", headers=auth).status_code == 200
    with accounts.client("carl") as c:
        assert c.delete(f"/api/collab/tokens/{made.json()['id']}").status_code == 204
        assert c.delete(f"/api/collab/tokens/{made.json()['id']}").status_code == 404
    assert httpx.get(f"{base}/api/collab/me", headers=auth).status_code == 401
    # Other people's tokens cannot be revoked by id.
    with accounts.client("olga") as c:
        other = c.post("/api/collab/tokens", json={"label": "x"}).json()
    with accounts.client("carl") as c:
        assert c.delete(f"/api/collab/tokens/{other['id']}").status_code == 404


# -- sharing ---------------------------------------------------------------------------------


def test_only_owners_share_and_never_more_than_they_hold(accounts):
    assert accounts.share("carl", "team-a", "user:vera", "editor").status_code == 403
    assert accounts.share("olga", "team-a", "user:nobody", "viewer").status_code == 404
    assert accounts.share("olga", "team-a", "user:vera", "boss").status_code == 400
    assert accounts.share("olga", "team-b", "user:olga", "viewer").status_code == 403
    with accounts.client("vera") as c:  # a viewer does not learn who else has access
        assert c.get("/api/collab/shares/team-a/plan.ipynb").status_code == 403
    with accounts.client("olga") as c:
        shares = c.get("/api/collab/shares/team-a/plan.ipynb").json()["shares"]
    assert {(s["principal"], s["role"], s["inherited"]) for s in shares} == {
        ("user:olga", "owner", True),
        ("user:carl", "commenter", True),
        ("user:vera", "viewer", True),
    }


def test_me_reports_what_is_enforced(accounts):
    for name, expected in {
        "olga": {"read": True, "comment": True, "write": True, "share": True, "admin": False},
        "carl": {"read": True, "comment": True, "write": False, "share": False},
        "vera": {"read": True, "comment": False, "write": False},
        "tess": {"read": False, "write": False},
    }.items():
        with accounts.client(name) as c:
            me = c.get("/api/collab/me", params={"path": "team-a/plan.ipynb"}).json()
            for action, value in expected.items():
                assert me["permissions"][action] is value, (name, action)
            # …and the server acts on it.
            read = c.get("/api/contents/team-a/plan.ipynb")
            assert (read.status_code == 200) is me["permissions"]["read"]
            write = c.put(
                "/api/contents/team-a/plan.ipynb",
                json={"type": "notebook", "content": read.json()["content"] if read.status_code
                      == 200 else {}},
            )  # fmt: skip
            assert (write.status_code == 200) is me["permissions"]["write"], (name, write.text)


def test_jupyters_api_me_answers_for_a_path(accounts):
    wanted = '{"contents": ["read", "write"], "kernels": ["execute"]}'
    with accounts.client("carl") as c:
        me = c.get("/api/me", params={"permissions": wanted, "path": "team-a/plan.ipynb"})
        assert me.status_code == 200
        assert me.json()["identity"]["username"] == "carl"
        permissions = me.json()["permissions"]
        assert (permissions["contents"], permissions["kernels"]) == (["read"], [])
        assert permissions["updatable_fields"] == []  # identity is the provider's
        assert c.patch("/api/me", json={"color": "#000000"}).status_code in (400, 403)
        elsewhere = c.get("/api/me", params={"permissions": wanted, "path": "team-b/secret.ipynb"})
        assert elsewhere.json()["permissions"]["contents"] == []


# -- tenant isolation ------------------------------------------------------------------------


def test_a_tenant_cannot_read_list_or_open_another_tenants_files(accounts):
    with accounts.client("tess") as c:
        exists = c.get("/api/contents/team-a/plan.ipynb")
        missing = c.get("/api/contents/team-a/no-such.ipynb")
        assert exists.status_code == missing.status_code == 403
        assert exists.json()["message"] == missing.json()["message"]
        assert c.get("/api/contents/team-a").status_code == 403
        assert c.get("/files/team-a/plan.ipynb").status_code == 403
        assert c.get("/nbconvert/html/team-a/plan.ipynb").status_code == 403
        # The root lists only the way to what is hers.
        root = c.get("/api/contents").json()
        assert [child["name"] for child in root["content"]] == ["team-b"]
        me = c.get("/api/collab/me").json()
        assert me["shared_with_me"] == [{"path": "team-b", "role": "editor"}]


async def test_a_tenant_cannot_open_a_room_on_another_tenants_file(accounts):
    server = accounts.server
    owner = await open_session(server.http_url, "team-a/plan.ipynb", accounts.tokens["olga"])
    file_id = owner.json()["fileId"]
    for path in ("team-a/plan.ipynb", "team-a/no-such.ipynb"):
        r = await open_session(server.http_url, path, accounts.tokens["tess"])
        assert r.status_code == 403, path
    url = f"{server.ws_url}/api/collaboration/room/json:notebook:{file_id}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{url}?token={accounts.tokens['tess']}")
    assert refused.value.response.status_code == 403


def test_renames_and_copies_are_checked_at_both_ends(accounts):
    with accounts.client("tess") as c:
        write_notebook(accounts.server.root, ["mine"], "team-b/mine.ipynb")
        moved = c.patch("/api/contents/team-b/mine.ipynb", json={"path": "team-a/stolen.ipynb"})
        assert moved.status_code == 403
        copied = c.post("/api/contents/team-b", json={"copy_from": "team-a/plan.ipynb"})
        assert copied.status_code == 403
    assert not (accounts.server.root / "team-a/stolen.ipynb").exists()
    assert (accounts.server.root / "team-b/mine.ipynb").exists()


def raw_get(server: ServerProcess, path: str, token: str) -> tuple[int, bytes]:
    """A request with the path exactly as written (HTTP clients would normalize ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"token {token}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    [
        "/api/contents/team-b/../team-a/plan.ipynb",
        "/api/contents/team-b/%2e%2e/team-a/plan.ipynb",
        "/api/contents/team-b%2f..%2fteam-a%2fplan.ipynb",
        "/api/contents/team-b/..%2fteam-a/plan.ipynb",
        "/files/team-b/../team-a/plan.ipynb",
        "/api/collaboration/session/team-b/../team-a/plan.ipynb",
    ],
)
def test_path_traversal_is_refused(accounts, path):
    status, body = raw_get(accounts.server, path, accounts.tokens["tess"])
    assert status in (400, 403, 404, 405), (status, body[:200])
    assert b"a secret of team a" not in body


def test_symlinks_out_of_a_folder_are_not_followed(accounts):
    root = accounts.server.root
    (root / "team-b" / "to-team-a").symlink_to(root / "team-a")
    (root / "team-b" / "passwd").symlink_to("/etc/passwd")
    with accounts.client("tess") as c:
        for path in ("team-b/to-team-a/plan.ipynb", "team-b/passwd", "team-b/to-team-a"):
            r = c.get(f"/api/contents/{path}")
            assert r.status_code == 404, (path, r.text[:200])
            assert "a secret of team a" not in r.text and "root:" not in r.text
        listing = c.get("/api/contents/team-b").json()
        names = {child["name"] for child in listing["content"]}
        assert "to-team-a" not in names and "passwd" not in names
        assert "secret.ipynb" in names


# -- what each role may do over the websocket ------------------------------------------------


async def test_viewer_and_commenter_edits_never_reach_the_document(accounts):
    server = accounts.server
    path = "team-a/plan.ipynb"
    olga = await YClient.connect(server, path, token=accounts.tokens["olga"])
    vera = await YClient.connect(server, path, token=accounts.tokens["vera"])
    carl = await YClient.connect(server, path, token=accounts.tokens["carl"])
    try:
        before = olga.text(0)
        vera.insert(0, 0, "VIEWER ")
        carl.insert(0, 0, "COMMENTER ")
        olga.insert(0, None, " (owner)")
        await wait_until(lambda: olga.text(0).endswith("(owner)"), 5)
        await wait_until(lambda: vera.text(0).endswith("(owner)"), 5)
        # Barriers: the server has handled the viewer's and the commenter's edits, and Olga
        # has received whatever it did with them.
        await vera.barrier()
        await carl.barrier()
        await olga.barrier()
        assert olga.text(0) == before + " (owner)"
    finally:
        for client in (olga, vera, carl):
            await client.close()


async def test_revoking_a_share_closes_open_sockets(accounts):
    server = accounts.server
    write_notebook(server.root, ["shared for a while"], "team-a/brief.ipynb")
    assert accounts.share("olga", "team-a/brief.ipynb", "user:tess", "editor").status_code == 201
    tess = await YClient.connect(server, "team-a/brief.ipynb", token=accounts.tokens["tess"])
    try:
        with accounts.client("olga") as c:
            r = c.delete("/api/collab/shares/team-a/brief.ipynb", params={"principal": "user:tess"})
            assert r.status_code == 204
        assert await tess.wait_closed(6) == 4403
    finally:
        await tess.close()


async def test_losing_write_makes_an_open_socket_read_only(accounts):
    server = accounts.server
    write_notebook(server.root, ["draft"], "team-a/draft.ipynb")
    assert accounts.share("olga", "team-a/draft.ipynb", "user:vera", "editor").status_code == 201
    olga = await YClient.connect(server, "team-a/draft.ipynb", token=accounts.tokens["olga"])
    vera = await YClient.connect(server, "team-a/draft.ipynb", token=accounts.tokens["vera"])
    try:
        vera.insert(0, None, " +vera")
        await wait_until(lambda: olga.text(0) == "draft +vera", 5)
        demoted = server.log().count("may no longer write")
        with accounts.client("olga") as c:
            c.delete("/api/collab/shares/team-a/draft.ipynb", params={"principal": "user:vera"})
        # The periodic re-check made Vera's socket read-only (it says so in the log).
        await wait_until(lambda: server.log().count("may no longer write") > demoted, 15)
        vera.insert(0, None, " again")
        olga.insert(0, 0, ">")
        await wait_until(lambda: vera.text(0).startswith(">"), 5)
        await vera.barrier()
        await olga.barrier()
        assert olga.text(0) == ">draft +vera"
        assert vera.close_code is None  # still a viewer through team-a: stays connected
    finally:
        await olga.close()
        await vera.close()


async def test_revoking_a_token_closes_its_sockets(accounts):
    server = accounts.server
    with accounts.client("olga") as c:
        made = c.post("/api/collab/tokens", json={"label": "script"}).json()
    client = await YClient.connect(server, "team-a/plan.ipynb", token=made["token"])
    try:
        with accounts.client("olga") as c:
            assert c.delete(f"/api/collab/tokens/{made['id']}").status_code == 204
        assert await client.wait_closed(6) == 4403
    finally:
        await client.close()


# -- secure defaults ---------------------------------------------------------------------------


def test_nothing_is_anonymous(accounts):
    base = accounts.server.http_url
    for url in ("/api/contents", "/api/contents/team-a/plan.ipynb", "/api/collab/me",
                "/api/kernels", "/api/sessions", "/api/collab/tokens"):  # fmt: skip
        assert httpx.get(base + url).status_code in (401, 403), url
    assert httpx.get(base + "/api/contents", headers={"Authorization": "token cs1_x_y"}
                     ).status_code == 401  # fmt: skip


def test_running_code_and_administration_need_their_own_rights(accounts):
    with accounts.client("olga") as c:  # owner of her folder, not allowed to run code
        assert c.get("/api/kernels").status_code == 403
        assert (
            c.post(
                "/api/sessions",
                json={
                    "path": "team-a/plan.ipynb",
                    "type": "notebook",
                    "kernel": {"name": "python3"},
                },
            ).status_code
            == 403
        )
        assert c.get("/api/terminals").status_code == 403
        assert c.get("/api/kernelspecs").status_code == 200
    with accounts.client("root") as c:
        assert c.get("/api/kernels").status_code == 200


def test_create_user_refuses_short_passwords(accounts, tmp_path):
    r = create_user(ServerProcess(tmp_path), "shorty")
    assert r.returncode == 1 and b"at least 8" in r.stderr


def test_no_token_or_password_reaches_the_log(accounts):
    log = accounts.server.log()
    for token in accounts.tokens.values():
        assert token not in log
        assert token.split("_", 2)[2] not in log  # not even the secret part
    for password in PASSWORDS.values():
        assert password not in log
    assert os.path.getsize(accounts.server.log_path) > 0


def test_anonymous_access_only_when_turned_on_and_only_to_what_is_granted(tmp_path):
    server = ServerProcess(
        tmp_path, provider=None, ready_token=None,
        extra_args=["--AccountsProvider.allow_anonymous=True"],
    )  # fmt: skip
    assert create_user(server, "root", "--admin").returncode == 0
    write_notebook(server.root, ["for everyone"], "public/hello.ipynb")
    write_notebook(server.root, ["not for everyone"], "private/plan.ipynb")
    server.start()
    try:
        acc = Accounts(server)
        acc.tokens["root"] = acc.login("root").json()["token"]
        assert acc.share("root", "public", "user:anonymous", "viewer").status_code == 201
        base = server.http_url
        assert httpx.get(f"{base}/api/contents/public/hello.ipynb").status_code == 200
        assert httpx.get(f"{base}/api/contents/private/plan.ipynb").status_code == 403
        assert httpx.put(f"{base}/api/contents/public/hello.ipynb", json={}).status_code == 403
        assert httpx.get(f"{base}/api/kernels").status_code == 403
        # A wrong token is still an error, not a quiet fall-back to anonymous.
        bad = {"Authorization": "token cs1_nope_nope"}
        assert httpx.get(f"{base}/api/contents/public/hello.ipynb", headers=bad).status_code == 401
    finally:
        server.stop()


def _self_signed(folder: Any) -> tuple[str, str]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return str(cert_path), str(key_path)


def test_session_cookie_is_secure_over_tls(tmp_path):
    cert, key = _self_signed(tmp_path)
    server = ServerProcess(
        tmp_path / "tls", provider=None, ready_token=None,
        extra_args=[f"--ServerApp.certfile={cert}", f"--ServerApp.keyfile={key}"],
    )  # fmt: skip
    assert create_user(server, "root", "--admin").returncode == 0
    server.start()
    try:
        r = httpx.post(
            f"https://127.0.0.1:{server.port}/api/collab/login",
            json={"username": "root", "password": PASSWORDS["root"]},
            verify=False,
        )
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        server.stop()
