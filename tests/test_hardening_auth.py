"""Regressions from the security review of sign-in and start-up, against real servers.

One data directory per server; a second server on it refuses to start; redirects stay on this
site; sign-in links from other sites need confirmation; the sign-in limiter holds under
concurrency (per name and per address); owners alone list shares; a new password revokes
sessions and tokens; the first admin has a way in; one URL in the banner; errors have bodies.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from collab_server import __version__
from collab_server.auth.accounts import AccountStore
from support.notebooks import write_notebook
from support.server import ServerProcess

PASSWORDS = {"root": "root-password-1", "owen": "owen-password-1", "vic": "vic-password-1",
             "reset": "reset-password-1", "keep": "keep-password-1",
             "race": "race-password-1", "burst": "burst-password-1"}  # fmt: skip


def login(
    server: ServerProcess, name: str, password: str | None = None, address: str = "10.0.0.1"
) -> httpx.Response:
    return httpx.post(
        f"{server.http_url}/api/collab/login",
        json={"username": name, "password": PASSWORDS.get(name, "") if password is None
              else password},
        headers={"X-Real-Ip": address},
        timeout=30,
    )  # fmt: skip


def data_next(page: str) -> str:
    match = re.search(r'data-next="([^"]*)"', page)
    assert match, page
    return str(__import__("json").loads(html.unescape(match.group(1))))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = ServerProcess(
        tmp_path_factory.mktemp("hardening"),
        ["--ServerApp.trust_xheaders=True",
         "--AccountsProvider.max_login_attempts_per_address=30"],
        provider=None,
        ready_token=None,
    )  # fmt: skip
    # Accounts made in-process (the command itself is tested below): quicker than a process
    # per account on a busy machine.
    store = AccountStore(server.data / "collab.sqlite")
    for name, password in PASSWORDS.items():
        admin = name in ("root", "keep")
        store.put_user(name, password, admin=admin, may_execute=admin)
    store.db.conn.close()
    write_notebook(server.root, ["x = 1"], "proj/a.ipynb")
    server.start()
    tokens = {n: login(server, n).json()["token"] for n in ("root", "owen", "vic")}
    with httpx.Client(base_url=server.http_url, timeout=10) as c:
        auth = {"Authorization": f"token {tokens['root']}"}
        grant = {"principal": "user:owen", "role": "owner"}
        assert c.post("/api/collab/shares/proj", json=grant, headers=auth).status_code == 201
        grant = {"principal": "user:vic", "role": "viewer"}
        assert (
            c.post("/api/collab/shares/proj/a.ipynb", json=grant, headers=auth).status_code == 201
        )
    yield server, tokens
    server.stop()


# -- 2. open redirects and sign-in CSRF ------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["/%5Cevil.example/", "/%09/evil.example/", "/%0A/evil.example/", "//evil.example/",
     "https://evil.example/", "/\\evil.example", "javascript:alert(1)"],
)  # fmt: skip
def test_login_page_never_sends_a_browser_to_another_site(site, target):
    server, _ = site
    answer = httpx.get(f"{server.http_url}/login?next={target}")
    assert answer.status_code == 200
    assert data_next(answer.text) == "/"


def test_sign_in_pages_allow_only_their_own_script_and_forms_posting_here(site):
    server, _ = site
    answer = httpx.get(f"{server.http_url}/login")
    policy = answer.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
    assert nonce, policy
    for directive in ("form-action 'self'", "base-uri 'none'", "object-src 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy
    # Every script of the page carries this response's nonce, and it is fresh; styles come
    # only from our own sheet (no inline style at all).
    assert answer.text.count("<script") == answer.text.count(f'nonce="{nonce.group(1)}"') >= 1
    assert "style-src 'self';" in policy and "<style" not in answer.text
    sheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', answer.text)
    assert sheet and httpx.get(f"{server.http_url}{sheet.group(1)}").status_code == 200
    again = httpx.get(f"{server.http_url}/login").headers["content-security-policy"]
    assert again != policy


def test_login_page_keeps_a_same_site_next(site):
    server, _ = site
    page = httpx.get(f"{server.http_url}/login?next=%2Fnotebooks%2Fa.ipynb%3Fx%3D1")
    assert data_next(page.text) == "/notebooks/a.ipynb?x=1"


def test_a_token_link_to_a_path_looking_like_another_host_stays_here(site):
    server, tokens = site
    r = httpx.get(
        f"{server.http_url}//evil.example/x?token={tokens['vic']}",
        headers={"Accept": "text/html", "Sec-Fetch-Site": "none"},
    )
    assert r.status_code in (301, 302), r.text
    location = r.headers["location"]
    assert not location.startswith("//") and "evil.example" not in location.split("?")[0][:2]
    assert httpx.URL(server.http_url).join(location).host == "127.0.0.1"


def test_a_sign_in_link_from_another_site_asks_first(site):
    server, tokens = site
    url = f"{server.http_url}/?token={tokens['vic']}"
    r = httpx.get(url, headers={"Accept": "text/html", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200
    assert "collab_session" not in r.headers.get("set-cookie", "")
    assert "Sign in as" in r.text and "Vic" in r.text.title()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text)
    assert xsrf
    # Without the page's XSRF token (another site posting the form), nothing happens.
    forged = httpx.post(f"{server.http_url}/login/confirm",
                        data={"token": tokens["vic"], "next": "/"})  # fmt: skip
    assert forged.status_code == 403
    assert "collab_session" not in forged.headers.get("set-cookie", "")
    confirmed = httpx.post(
        f"{server.http_url}/login/confirm",
        data={"token": tokens["vic"], "next": "//evil.example/", "_xsrf": html.unescape(
            xsrf.group(1))},
        cookies=r.cookies,
    )  # fmt: skip
    assert confirmed.status_code == 302
    assert confirmed.headers["location"] == "/"
    assert "collab_session=" in confirmed.headers["set-cookie"]


def test_a_pasted_sign_in_link_still_works(site):
    server, tokens = site
    r = httpx.get(f"{server.http_url}/tree?token={tokens['vic']}",
                  headers={"Accept": "text/html", "Sec-Fetch-Site": "none"})  # fmt: skip
    assert r.status_code == 302 and r.headers["location"] == "/tree"
    assert "collab_session=" in r.headers["set-cookie"]


# -- 3. the sign-in limiter under concurrency --------------------------------------------------


async def _burst(server: ServerProcess, name: str, passwords: list[str], address: str) -> list[int]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as c:

        async def one(password: str) -> int:
            r = await c.post("/api/collab/login", json={"username": name, "password": password},
                             headers={"X-Real-Ip": address})  # fmt: skip
            return r.status_code

        return list(await asyncio.gather(*(one(p) for p in passwords)))


async def test_concurrent_guesses_cannot_outrun_the_limit(site):
    server, _ = site
    codes = await _burst(server, "race", [f"guess-{i}" for i in range(200)], "10.1.0.1")
    assert codes.count(401) <= 10, codes.count(401)
    assert codes.count(429) >= 190
    # The right password now waits like everyone else's.
    assert login(server, "race", address="10.1.0.2").status_code == 429


async def test_the_right_password_in_a_burst_of_wrong_ones_is_not_accepted(site):
    server, _ = site
    codes = await _burst(server, "burst", ["wrong-password"] * 40, "10.2.0.1")
    assert 200 not in codes and codes.count(401) <= 10
    assert login(server, "burst", address="10.2.0.2").status_code == 429


def test_one_address_cannot_lock_every_account_name_out(site):
    server, _ = site
    codes = [login(server, f"sprayed-{i}", "wrong-password", "10.3.0.1").status_code
             for i in range(31)]  # fmt: skip
    assert codes[:30] == [401] * 30 and codes[30] == 429
    # Those names are not locked for anyone else, nor is this address's limit anyone else's.
    assert login(server, "sprayed-1", "wrong-password", "10.3.0.2").status_code == 401
    assert login(server, "owen", address="10.3.0.3").status_code == 200


# -- 4. shares, anonymous grants, password resets, create-user flags -------------------------


def test_only_owners_list_who_has_access(site):
    server, tokens = site
    with httpx.Client(base_url=server.http_url, timeout=10) as c:
        vic = {"Authorization": f"token {tokens['vic']}"}
        owen = {"Authorization": f"token {tokens['owen']}"}
        for path in ("proj", "proj/a.ipynb"):
            refused = c.get(f"/api/collab/shares/{path}", headers=vic)
            assert refused.status_code == 403, (path, refused.text)
            assert "user:" not in refused.text
        listed = c.get("/api/collab/shares/proj/a.ipynb", headers=owen)
        assert listed.status_code == 200
        assert {s["principal"] for s in listed.json()["shares"]} >= {"user:owen", "user:vic"}


def test_nothing_is_shared_with_anonymous_while_anonymous_access_is_off(site):
    server, tokens = site
    with httpx.Client(base_url=server.http_url, timeout=10) as c:
        grant = {"principal": "user:anonymous", "role": "viewer"}
        owen = {"Authorization": f"token {tokens['owen']}"}
        r = c.post("/api/collab/shares/proj", json=grant, headers=owen)
    assert r.status_code == 409
    assert "anonymous" in r.json()["message"].lower()


def test_a_new_password_revokes_sessions_and_tokens(site):
    server, _ = site
    session = login(server, "reset").json()["token"]
    with httpx.Client(base_url=server.http_url, timeout=10) as c:
        auth = {"Authorization": f"token {session}"}
        api = c.post("/api/collab/tokens", json={"label": "ci"}, headers=auth).json()["token"]
        assert c.get("/api/collab/me", headers={"Authorization": f"token {api}"}).status_code == 200
        done = server.create_user("reset", "reset-password-2")
        assert done.returncode == 0, done.stderr
        assert b"password changed" in done.stdout
        for token in (session, api):
            assert c.get("/api/collab/me", headers={"Authorization": f"token {token}"}
                         ).status_code == 401  # fmt: skip
    assert login(server, "reset", "reset-password-2").status_code == 200


def test_create_user_again_keeps_flags_unless_told(site):
    server, _ = site
    done = server.create_user("keep", "keep-password-2")
    assert done.returncode == 0, done.stderr
    assert b"Admin 'keep'" in done.stdout and b"no longer" not in done.stdout
    token = login(server, "keep", "keep-password-2").json()["token"]
    me = httpx.get(f"{server.http_url}/api/collab/me", headers={"Authorization": f"token {token}"})
    assert me.json()["server_admin"] is True
    done = server.create_user("keep", "keep-password-3", "--no-admin")
    assert b"no longer admin" in done.stdout
    token = login(server, "keep", "keep-password-3").json()["token"]
    me = httpx.get(f"{server.http_url}/api/collab/me", headers={"Authorization": f"token {token}"})
    assert me.json()["server_admin"] is False


def test_create_user_works_while_the_server_runs(site):
    server, _ = site
    done = server.create_user("newbie", "newbie-password-1")
    assert done.returncode == 0, done.stderr
    assert login(server, "newbie", "newbie-password-1").status_code == 200


# -- 5. an account without a password ----------------------------------------------------------


def test_help_lists_the_sub_commands():
    out = subprocess.run([sys.executable, "-m", "collab_server", "--help"],
                         capture_output=True, timeout=60, env=_env())  # fmt: skip
    assert b"create-user" in out.stdout and b"set-password" in out.stdout


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    return env


# -- 1, 4, 5, 6, 8. start-up ----------------------------------------------------------------


def test_first_start_link_sets_a_password_banner_and_private_files(tmp_path):
    server = ServerProcess(tmp_path, provider=None, ready_token=None)
    server.data.chmod(0o755)  # as older versions left it
    server.start()
    try:
        log = server.log()
        # One URL, printed once; nothing of jupyter_server's own banner.
        assert "file://" not in log and "twice to skip" not in log, log
        assert "is running at" not in log
        links = re.findall(r"https?://\S+", log)
        assert len(links) == 1, links
        assert f"collab_server {__version__}" in log and "Data directory:" in log
        assert "Made the data directory private" in log
        assert stat.S_IMODE(server.data.stat().st_mode) == 0o700
        for name in ("collab.sqlite", "collab.sqlite-wal"):
            if (server.data / name).exists():
                assert stat.S_IMODE((server.data / name).stat().st_mode) == 0o600, name
        link = links[0]
        # Signing in before a password is set answers like any wrong password (nobody learns
        # before signing in that the account exists); the way in is the printed link.
        r = login(server, "admin", "")
        assert r.status_code == 401
        assert r.json()["message"] == "Wrong user name or password"
        # A pasted link: signed in, sent to set a password.
        r = httpx.get(link, headers={"Accept": "text/html", "Sec-Fetch-Site": "none"})
        assert r.status_code == 302, r.text
        assert r.headers["location"].startswith("/set-password")
        cookies = r.cookies
        # One time only.
        again = httpx.get(link, headers={"Accept": "text/html", "Sec-Fetch-Site": "none"})
        assert again.status_code == 401
        assert again.text.strip(), "a 401 has a body with a message"
        page = httpx.get(f"{server.http_url}{r.headers['location']}", cookies=cookies)
        assert page.status_code == 200 and "Set a password" in page.text
        xsrf = page.cookies.get("_xsrf") or cookies.get("_xsrf")
        cookies = httpx.Cookies(cookies)
        cookies.set("_xsrf", xsrf)
        done = httpx.post(f"{server.http_url}/api/collab/password", cookies=cookies,
                          json={"new_password": "admin-password-1"},
                          headers={"X-XSRFToken": xsrf})  # fmt: skip
        assert done.status_code == 200, done.text
        assert login(server, "admin", "admin-password-1").status_code == 200
        assert "Uncaught exception" not in server.log()
    finally:
        assert server.stop() == 0


def test_a_second_server_on_the_same_data_directory_refuses_to_start(spawn_server, tmp_path):
    first = spawn_server()
    second = ServerProcess(tmp_path / "second", [f"--data-dir={first.data}"])
    with pytest.raises(RuntimeError, match="exited early"):
        second.start()
    assert second.process is not None and second.process.returncode != 0
    log = second.log()
    assert "already running on the data directory" in log and str(first.data) in log
    assert "Traceback" not in log
    assert first.create_user("late", "late-password-1").returncode == 0


def test_a_damaged_database_stops_the_start_with_a_message(tmp_path):
    server = ServerProcess(tmp_path, provider=None, ready_token=None)
    (server.data / "collab.sqlite").write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    with pytest.raises(RuntimeError, match="exited early"):
        server.start()
    log = server.log()
    assert "is damaged" in log and "Traceback" not in log


def test_a_corrupted_page_is_found_by_the_start_up_check(tmp_path):
    server = ServerProcess(tmp_path, provider=None, ready_token=None)
    db = server.data / "collab.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [("y" * 500,)] * 200)
    conn.commit()
    conn.close()
    data = bytearray(db.read_bytes())
    data[4096 * 2 : 4096 * 2 + 200] = b"\xff" * 200  # garbage over a b-tree page header
    db.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="exited early"):
        server.start()
    assert "is damaged" in server.log()


def test_the_default_data_directory_belongs_to_the_root_directory(tmp_path, monkeypatch):
    from collab_server.core.datadir import default_data_dir

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jd"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = default_data_dir(tmp_path / "a"), default_data_dir(tmp_path / "b")
    assert a != b and a.parent == b.parent == tmp_path / "jd" / "collab_server"
    assert default_data_dir(tmp_path / "a" / ".." / "a") == a


# -- 7. JupyterLab starts no kernel for people who may not run code ---------------------------


def _page_config(server: ServerProcess, token: str) -> dict[str, Any]:
    page = httpx.get(f"{server.http_url}/lab/tree/proj/a.ipynb",
                     headers={"Authorization": f"token {token}"})  # fmt: skip
    if page.status_code == 404:
        pytest.skip("JupyterLab (the [lab] extra) is not installed")
    assert page.status_code == 200, page.text
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page.text, re.S)  # fmt: skip
    assert match
    return dict(__import__("json").loads(match.group(1)))


def test_jupyterlab_opens_notebooks_without_a_kernel_for_people_without_execute(site):
    server, tokens = site
    assert _page_config(server, tokens["vic"]).get("notebookStartsKernel") == "false"
    assert _page_config(server, tokens["root"]).get("notebookStartsKernel") != "false"
    # What JupyterLab would have sent on opening: still refused, with a message.
    r = httpx.post(
        f"{server.http_url}/api/sessions",
        json={"path": "proj/a.ipynb", "type": "notebook", "name": "a.ipynb",
              "kernel": {"name": "python3"}},
        headers={"Authorization": f"token {tokens['vic']}"},
    )  # fmt: skip
    assert r.status_code == 403 and r.json()["message"]


# -- a database held by another process: 503 with a message, the server keeps answering ------


async def test_a_locked_database_answers_503_and_blocks_nobody(site):
    server, tokens = site
    holder = sqlite3.connect(server.data / "collab.sqlite", isolation_level=None, timeout=10)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as c:
            owen = {"Authorization": f"token {tokens['owen']}"}
            grant = {"principal": "user:root", "role": "viewer"}
            share = asyncio.ensure_future(
                c.post("/api/collab/shares/proj/a.ipynb", json=grant, headers=owen)
            )
            # While the write waits for the lock, everyone else is still served.
            status = await c.get("/api/status", headers=owen)
            assert status.status_code == 200
            assert not share.done()
            answer = await share
        assert answer.status_code == 503, answer.text
        assert "busy" in answer.json()["message"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
