"""A kernel starts without the server's secrets: a real kernel prints its ``os.environ``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from conftest import write_notebook
from support.server import ServerProcess
from support.yclient import YClient, wait_until

pytestmark = pytest.mark.timeout(120)

RUNNER = "runner-token"

SECRETS = {
    "COLLAB_SERVER_TOKEN": "the-whole-server",
    "COLLAB_JWT_SECRET": "signs-everyone",
    "AWS_SECRET_ACCESS_KEY": "cloud",
    "DEPLOY_KEY": "ssh",
    "DB_PASSWORD": "hunter2",
    "SERVICE_API_TOKEN": "service",
}


async def test_a_kernel_inherits_no_secret_of_the_server(
    spawn_server: Callable[..., ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    monkeypatch.setenv("KEPT_API_TOKEN", "the operator keeps it")
    server = spawn_server(
        "--CollabServer.kernel_env_keep=KEPT_API_TOKEN",
        # This provider gives kernels the starter's token (JUPYTER_AUTH_TOKEN): what the
        # provider supplies always arrives, though its name looks like a secret.
        "--CollabServer.authorization_provider_class=support.providers.TokenInKernelProvider",
    )
    path = write_notebook(server.root, ["import os, json\nprint(json.dumps(dict(os.environ)))"])
    async with server.client(RUNNER) as c:
        r = await c.post(f"/api/collab/kernels/{path}", json={}, timeout=60)
        assert r.status_code in (200, 201), r.text
        state = r.json()
        client = await YClient.connect(server, path, RUNNER)
        try:
            cell_id = client.content()["cells"][0]["id"]
            r = await c.post(
                f"/api/kernels/{state['kernel']['id']}/execute",
                json={"cell_id": cell_id, "document_id": state["document_id"]},
                timeout=60,
            )
            assert r.status_code == 200, r.text

            def printed() -> bool:
                outputs = client.content()["cells"][0]["outputs"]
                return any(o.get("name") == "stdout" for o in outputs)

            await wait_until(printed, 20)
            text = "".join(
                o["text"] for o in client.content()["cells"][0]["outputs"] if o.get("name")
            )
        finally:
            await client.close()
        await c.delete(f"/api/kernels/{state['kernel']['id']}")
    environ = json.loads(text)
    leaked = sorted(name for name in SECRETS if name in environ)
    assert leaked == []
    assert not any(value in text for value in SECRETS.values())
    assert environ["HARMLESS_SETTING"] == "visible"
    assert environ["KEPT_API_TOKEN"] == "the operator keeps it"
    assert environ["JUPYTER_AUTH_TOKEN"] == RUNNER and environ["JUPYTER_AUTH_ID"] == "rita"
    assert environ["COLLAB_SERVER_URL"].startswith("http://127.0.0.1:")
    assert "PATH" in environ
