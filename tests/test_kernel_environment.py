"""A kernel starts without the server's secrets: a real kernel prints its ``os.environ``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import nbformat
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
                # All of the printed line: the answer above may come before the document's
                # last update reaches this client.
                outputs = client.content()["cells"][0]["outputs"]
                return "".join(o["text"] for o in outputs if o.get("name")).endswith("}\n")

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


async def test_an_app_kernel_inherits_no_secret_of_the_server(
    spawn_server: Callable[..., ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for apps: a warm kernel (parked before anyone asked) and the run in it."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    server = spawn_server(
        "--CollabServer.apps_pool_size=1",
        "--CollabServer.authorization_provider_class=support.providers.TokenInKernelProvider",
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    parameters = nbformat.v4.new_code_cell("x = 1", id="p")
    parameters.metadata["tags"] = ["parameters"]
    result = nbformat.v4.new_code_cell(
        "from IPython.display import JSON\nJSON({'parked': parked, 'run': dict(os.environ)})",
        id="r",
    )
    result.metadata["tags"] = ["result"]
    nb.cells = [nbformat.v4.new_code_cell("import os\nparked = dict(os.environ)", id="s"),
                parameters, result]  # fmt: skip
    (server.root / "env.ipynb").write_text(nbformat.writes(nb))
    async with server.client("admin-token") as c:
        r = await c.post("/api/collab/publish/env.ipynb", json={})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        deadline = time.monotonic() + 60
        while (await c.get(f"/api/collab/apps/{pid}")).json()["pool"]["parked"] < 1:
            assert time.monotonic() < deadline, "no kernel was parked"
            await asyncio.sleep(0.2)
        r = await c.post(f"/api/collab/apps/{pid}/runs?wait=60", json={}, timeout=90)
        assert r.status_code == 200, r.text
        run = r.json()
    assert run["status"] == "succeeded" and run["warm"] is True, run
    parked, environ = run["result"]["parked"], run["result"]["run"]
    for seen in (parked, environ):
        assert sorted(name for name in SECRETS if name in seen) == []
        assert not any(value in json.dumps(seen) for value in SECRETS.values())
        assert seen["HARMLESS_SETTING"] == "visible"
    assert "JUPYTER_AUTH_ID" not in parked  # nobody's identity before someone runs it
    assert environ["JUPYTER_AUTH_ID"] == "admin"
    assert environ["JUPYTER_AUTH_TOKEN"] == "admin-token"  # the provider's choice
