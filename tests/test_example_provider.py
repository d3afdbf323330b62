"""The documented example provider in examples/ runs the real server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from support.server import ServerProcess
from support.yclient import YClient, wait_until

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

GRANTS = """
users:
  alice:
    name: Alice Liddell
    token: alice-secret
    grants:
      - {path: "", action: write}
      - {path: "*", action: admin}
  bob:
    token: bob-secret
    grants:
      - {path: "team-b", action: read}
"""


async def test_yaml_grants_provider(tmp_path, monkeypatch):
    grants = tmp_path / "grants.yaml"
    grants.write_text(GRANTS)
    monkeypatch.setenv("PYTHONPATH", f"{EXAMPLES}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    server = ServerProcess(
        tmp_path,
        ["--YamlGrantsProvider.path=" + str(grants)],
        provider="yaml_grants_provider.YamlGrantsProvider",
        ready_token="alice-secret",
    )
    (server.root / "team-b").mkdir(parents=True)
    (server.root / "team-b" / "notes.txt").write_text("hello")
    (server.root / "private.txt").write_text("secret")
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as c:
            bob = {"Authorization": "Bearer bob-secret"}
            assert (await c.get("/api/contents/team-b/notes.txt", headers=bob)).status_code == 200
            assert (await c.get("/api/contents/private.txt", headers=bob)).status_code == 403
        alice = await YClient.connect(server, "team-b/notes.txt", "alice-secret", ("text", "file"))
        viewer = await YClient.connect(server, "team-b/notes.txt", "bob-secret", ("text", "file"))
        await viewer.set_awareness({"here": True})
        await wait_until(lambda: viewer.doc.client_id in alice.awareness, 5)
        assert alice.awareness[viewer.doc.client_id]["user"]["name"] == "bob"
        await alice.close()
        await viewer.close()
        # Grants are re-read when the file changes: bob loses access.
        time.sleep(0.01)  # pacing: the rewritten file gets a later modification time
        grants.write_text(GRANTS.replace('"team-b", action: read', '"elsewhere", action: read'))
        async with httpx.AsyncClient(base_url=server.http_url) as c:
            r = await c.get(
                "/api/contents/team-b/notes.txt", headers={"Authorization": "Bearer bob-secret"}
            )
            assert r.status_code == 403
    finally:
        server.stop()
