"""Shared kernels on the real server: real kernels (ipykernel), real clients (pycrdt and the
JavaScript client JupyterLab runs), jupyter_server's routes and ours."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from conftest import read_notebook, write_notebook
from support.jsclient import JsClient
from support.server import ServerProcess
from support.yclient import YClient, wait_until

pytestmark = pytest.mark.timeout(90)

RUNNER = "runner-token"  # Rita: may run code
ADMIN = "admin-token"


@pytest.fixture(scope="module")
def kserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("kernels"),
        ["--CollabServer.kernel_max_stream_chars=4000"],
    ).start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
async def no_kernels_left(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "kserver" not in request.fixturenames:
        return
    server: ServerProcess = request.getfixturevalue("kserver")
    async with server.client(ADMIN) as c:
        for kernel in (await c.get("/api/kernels")).json():
            await c.delete(f"/api/kernels/{kernel['id']}")


def cell_ids(server: ServerProcess, path: str) -> list[str]:
    return [cell["id"] for cell in read_notebook(server.root, path).cells]


async def new_session(c: httpx.AsyncClient, path: str) -> str:
    """What JupyterLab does when it opens a notebook: returns the kernel id."""
    r = await c.post(
        "/api/sessions",
        json={"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["kernel"]["id"])


def outputs_of(client: YClient, index: int) -> list[dict[str, Any]]:
    return list(client.content()["cells"][index].get("outputs", []))


def stdout_of(outputs: list[dict[str, Any]]) -> str:
    return "".join(
        "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
        for o in outputs
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def kernel_states(client: YClient) -> list[dict[str, Any]]:
    return [m for m in client.raw_messages if m.get("type") == "kernel"]


async def test_jupyterlab_shape_streams_live_to_both_clients_and_is_saved(kserver):
    path = write_notebook(
        kserver.root,
        [
            "import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.25)",
            "40 + 2",
        ],
    )
    ids = cell_ids(kserver, path)
    async with kserver.client(RUNNER) as c:
        kernel_id = await new_session(c, path)
        # A session for a notebook that has a kernel gets that kernel.
        assert await new_session(c, path) == kernel_id
        alice = await YClient.connect(kserver, path, "alice-token")
        js = await JsClient.start()
        try:
            await js.connect(kserver, alice.file_id, alice.session_id, "bob-token")
            document_id = f"json:notebook:{alice.file_id}"
            run = asyncio.create_task(
                c.post(
                    f"/api/kernels/{kernel_id}/execute",
                    json={"cell_id": ids[0], "document_id": document_id},
                    timeout=30,
                )
            )
            # Live: part of the output is there while the cell still runs.
            await wait_until(lambda: "1\n" in stdout_of(outputs_of(alice, 0)), 20)
            assert not run.done()
            # The waiting request blocks nobody: another request answers meanwhile.
            started = time.monotonic()
            assert (await c.get("/api/status")).status_code == 200
            assert time.monotonic() - started < 0.5
            assert not run.done()
            r = await run
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "ok"
            cell = alice.content()["cells"][0]
            assert stdout_of(cell["outputs"]) == "0\n1\n2\n3\n4\n5\n"
            assert len(cell["outputs"]) == 1  # appended in place, one stream output
            assert cell["execution_count"] == 1
            # The JS client (what JupyterLab runs) sees the same outputs.
            for _ in range(100):
                js_cells = (await js.content())["cells"]
                if js_cells[0].get("outputs") == cell["outputs"]:
                    break
                await asyncio.sleep(0.05)
            assert js_cells[0]["outputs"] == cell["outputs"]
            assert js_cells[0]["execution_count"] == 1
            # Transient state reached the clients, never the notebook.
            states = kernel_states(alice)
            assert any(s["cells"] and s["cells"][0]["state"] == "running" for s in states)
            assert states[-1]["state"] == "idle" and states[-1]["cells"] == []
            assert states[-1]["kernel"]["runs_as"] == "Rita Runner"
        finally:
            await js.close()
            await alice.close()
        # Nobody is in the room any more: output still lands and is saved.
        r = await c.post(
            f"/api/kernels/{kernel_id}/execute",
            json={"cell_id": ids[1], "document_id": document_id},
            timeout=30,
        )
        assert r.status_code == 200, r.text

        def saved() -> bool:
            cells = read_notebook(kserver.root, path).cells
            return (
                bool(cells[1].outputs)
                and cells[1].outputs[0].get("data", {}).get("text/plain") == "42"
            )

        await wait_until(saved, 10)
        nb = read_notebook(kserver.root, path)
        assert "execution_state" not in json.dumps(nb)
        assert stdout_of(nb.cells[0].outputs) == "0\n1\n2\n3\n4\n5\n"
