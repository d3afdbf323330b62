"""The command itself: default provider, configuration file, start-up URL, status."""

from __future__ import annotations

import re

import httpx

from support.server import ServerProcess


def test_provider_chosen_in_a_config_file(tmp_path):
    server = ServerProcess(tmp_path, provider=None, ready_token="from-config-file")
    (server.config_dir / "collab_server_config.py").write_text(
        "c.CollabServer.authorization_provider_class = "
        '"collab_server.auth.single_token.SingleTokenProvider"\n'
        'c.SingleTokenProvider.token = "from-config-file"\n'
    )
    server.start()
    try:
        ok = httpx.get(f"{server.http_url}/api/status?token=from-config-file")
        assert ok.status_code == 200
        assert httpx.get(f"{server.http_url}/api/status?token=nope").status_code == 401
        assert httpx.get(f"{server.http_url}/api/status").status_code in (401, 403)
        # The URL to open is printed with its token (and the token is in no log line).
        log = server.log()
        assert "Open this URL in a browser" in log
        assert "?token=from-config-file" in log
        assert log.count("from-config-file") == 1
    finally:
        assert server.stop() == 0


def test_first_start_prints_a_sign_in_link_for_the_admin(tmp_path):
    """The default (local accounts) on an empty database: the printed URL signs in as admin."""
    server = ServerProcess(tmp_path, provider=None, ready_token=None).start()
    try:
        match = re.search(r"\?token=([\w-]+)", server.log())
        assert match, server.log()
        token = match.group(1)
        assert len(token) >= 40
        me = httpx.get(f"{server.http_url}/api/collab/me?token={token}")
        assert me.status_code == 200
        assert me.json()["identity"]["username"] == "admin"
        assert me.json()["server_admin"] is True
        assert httpx.get(f"{server.http_url}/api/status?token={token}x").status_code == 401
        assert server.log().count(token) == 1  # printed once, in no log line
    finally:
        server.stop()


def test_a_provider_that_cannot_be_loaded_stops_the_server(tmp_path):
    server = ServerProcess(tmp_path, provider="no_such_module.Provider", ready_token=None)
    try:
        server.start()
        raise AssertionError("the server started without its provider")
    except RuntimeError as e:
        assert "exited early" in str(e)
    assert server.process is not None and server.process.returncode != 0
    assert "no_such_module" in server.log()
