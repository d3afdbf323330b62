"""Every REST route of ours answers errors through the one mapping (``core.http``).

A walk over a few routes per package (auth, comments, contents) with bad input, against a real
server with the default accounts provider: each refusal is JSON ``{"message": …}`` with the
status of its domain error (``core.errors``), 429 carries ``Retry-After``, and the server log
shows them as refusals, never as "Uncaught exception" with a stack trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.notebooks import write_notebook
from support.server import ServerProcess

PASSWORDS = {"root": "root-password-1", "olga": "olga-password-1", "lock": "lock-password-1"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = ServerProcess(
        tmp_path_factory.mktemp("errors"),
        ["--AccountsProvider.max_login_failures=2"],
        provider=None,
        ready_token=None,
    )
    for name, flags in (("root", ("--admin",)), ("olga", ()), ("lock", ())):
        assert server.create_user(name, PASSWORDS[name], *flags).returncode == 0
    write_notebook(server.root, ["print(1)"], "team/plan.ipynb")
    (server.root / "team" / "notes.txt").write_text("not a notebook")
    server.start()
    tokens = {}
    for name in ("root", "olga"):
        r = httpx.post(
            f"{server.http_url}/api/collab/login",
            json={"username": name, "password": PASSWORDS[name]},
        )
        assert r.status_code == 200, r.text
        tokens[name] = r.json()["token"]
    yield {"server": server, "tokens": tokens}
    server.stop()


def client(site: dict[str, Any], who: str | None = "root") -> httpx.Client:
    headers = {"Authorization": f"token {site['tokens'][who]}"} if who else {}
    return httpx.Client(base_url=site["server"].http_url, headers=headers, timeout=10)


def refused(response: httpx.Response, status: int) -> str:
    """The message of a refusal with ``status``, checked to be ``{"message": str}`` JSON."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    return str(body["message"])


NOTEBOOK = "team/plan.ipynb"
SOME_UUID = str(uuid.uuid4())


def test_auth_routes(site):
    with client(site, None) as anonymous:
        login = "/api/collab/login"
        json_type = {"Content-Type": "application/json"}
        assert "not valid JSON" in refused(
            anonymous.post(login, content=b"{", headers=json_type), 400
        )
        refused(anonymous.post(login, json={"username": 1, "password": "x"}), 400)
        refused(anonymous.post(login, data={"username": "olga", "password": "x"}), 400)
        assert (
            refused(
                anonymous.post(login, json={"username": "olga", "password": "wrong-password"}), 401
            )
            == "Wrong user name or password"
        )
        refused(anonymous.post(login, content=b"[1]", headers=json_type), 400)
    with client(site) as root:
        refused(root.get("/api/collab/me", params={"path": "../outside"}), 400)
        refused(root.get("/api/collab/shares/missing.ipynb"), 404)
        share = f"/api/collab/shares/{NOTEBOOK}"
        refused(root.post(share, json={"principal": "user:olga", "role": "boss"}), 400)
        assert "No user named" in refused(
            root.post(share, json={"principal": "user:nobody", "role": "viewer"}), 404
        )
        refused(root.post(share, json={"principal": "user:anonymous", "role": "viewer"}), 409)
        refused(root.post(share, json={"principal": "robot:x", "role": "viewer"}), 400)
        refused(root.delete(share), 400)
        refused(root.post("/api/collab/tokens", json={"expires_in_days": 0}), 400)
        refused(root.delete("/api/collab/tokens/no-such-token"), 404)
        refused(root.post("/api/collab/password", json={"new_password": "short"}), 400)
        refused(root.post("/api/collab/tokens", content=b"x" * (1024 * 1024 + 1)), 413)
    with client(site, "olga") as olga:
        refused(olga.get(f"/api/collab/shares/{NOTEBOOK}"), 403)


def test_too_many_attempts_say_when_to_retry(site):
    url = f"{site['server'].http_url}/api/collab/login"
    for _ in range(2):
        wrong = httpx.post(url, json={"username": "lock", "password": "wrong-password"})
        refused(wrong, 401)
    r = httpx.post(url, json={"username": "lock", "password": PASSWORDS["lock"]})
    assert "Too many sign-in attempts" in refused(r, 429)
    assert int(r.headers["Retry-After"]) >= 1


def test_comments_routes(site):
    base = "/api/collab/comments"
    with client(site, None) as anonymous:
        refused(anonymous.get(f"{base}/{NOTEBOOK}"), 401)
    with client(site) as root:
        refused(root.get(f"{base}/team/notes.txt"), 400)
        refused(root.get(f"{base}/team/missing.ipynb"), 404)
        refused(root.get(f"{base}/{NOTEBOOK}", params={"status": "later"}), 400)
        refused(root.post(f"{base}/{NOTEBOOK}", json={"target": "cell", "body": "hi"}), 400)
        refused(
            root.post(f"{base}/{NOTEBOOK}", json={"target": {"type": "notebook"}, "body": ""}), 400
        )
        missing_cell = {"target": {"type": "cell", "cellId": "nope"}, "body": "hi"}
        refused(root.post(f"{base}/{NOTEBOOK}", json=missing_cell), 404)
        refused(root.patch(f"{base}/{NOTEBOOK}/not-a-uuid", json={"status": "resolved"}), 404)
        refused(root.patch(f"{base}/{NOTEBOOK}/{SOME_UUID}", json={"status": "maybe"}), 400)
        refused(root.post(f"{base}/{NOTEBOOK}/{SOME_UUID}/replies", json={"body": "hi"}), 404)
        refused(root.delete(f"{base}/{NOTEBOOK}/{SOME_UUID}"), 404)
        refused(root.post(f"{base}/{NOTEBOOK}", content=b'{"body": "\\ud800"}'), 400)
    with client(site, "olga") as olga:
        refused(olga.get(f"{base}/{NOTEBOOK}"), 403)


def test_contents_routes(site):
    url = f"/api/contents/{NOTEBOOK}"
    with client(site) as root:
        refused(root.patch(url, json={"path": 5}), 400)
        refused(root.patch(url, json={"path": "../escape.ipynb"}), 400)
        refused(root.patch(url, content=b"{broken"), 400)
        refused(root.patch(url, content=b"[1, 2]"), 400)
        refused(root.put(url, content=b"[" * 600 + b"]" * 600), 400)
        refused(root.put(url, content=b" " + b"x" * (1024 * 1024)), 413)
    with client(site, "olga") as olga:
        refused(olga.patch(url, json={"path": "team/moved.ipynb"}), 403)
    assert (site["server"].root / NOTEBOOK).exists()


def test_refusals_are_logged_as_refusals(site):
    # Runs last in this module: every refusal above has reached the log by now (a request
    # is logged before its response is sent).
    log = site["server"].log()
    assert "Uncaught exception" not in log
    assert "Traceback" not in log
    # A refusal is one line at info, not jupyter_server's "wrote error" warning as well.
    assert "403 GET /api/collab/comments/team/plan.ipynb: You may not see" in log
    assert "wrote error" not in log


def test_a_missing_capability_is_501(server):
    # The test provider has no personal tokens or sharing: the route says so.
    with httpx.Client(base_url=server.http_url, timeout=10) as c:
        headers = {"Authorization": "token admin-token"}
        refused(c.get("/api/collab/tokens", headers=headers), 501)
        refused(c.get("/api/collab/shares/", headers=headers), 501)
        # Expected, not a failure of the server: one warning line, no error with headers.
        # The request after it is the barrier: lines are written in order.
        assert c.get("/api/collab/me", headers=headers).status_code == 200
    lines = [line for line in server.log().splitlines() if "/api/collab/tokens" in line]
    assert any(line.startswith("[W ") for line in lines), lines
    assert not any(line.startswith("[E ") for line in lines), lines
    assert '"User-Agent"' not in server.log()
