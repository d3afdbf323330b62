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
            # The waiting request blocks nobody: another request is answered while it waits
            # (the order proves it; a time bound would only measure the machine).
            assert (await c.get("/api/status")).status_code == 200
            assert not run.done()
            r = await run
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "ok"
            # The answer comes on its own connection: the last updates to the document (and
            # the kernel's last state) may still be on their way over Alice's socket.
            await wait_until(lambda: stdout_of(outputs_of(alice, 0)) == "0\n1\n2\n3\n4\n5\n", 10)
            await wait_until(lambda: kernel_states(alice)[-1]["cells"] == [], 10)
            cell = alice.content()["cells"][0]
            assert len(cell["outputs"]) == 1  # appended in place, one stream output
            assert cell["execution_count"] == 1

            # The JS client (what JupyterLab runs) sees the same outputs.
            async def js_cells() -> list[dict[str, Any]]:
                return list((await js.content())["cells"])

            async def js_has_outputs() -> bool:
                return (await js_cells())[0].get("outputs") == cell["outputs"]

            await wait_until(js_has_outputs, 10)
            assert (await js_cells())[0]["execution_count"] == 1
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


async def start_kernel(c: httpx.AsyncClient, path: str) -> dict[str, Any]:
    """Our page's way: start (or get) the notebook's kernel; returns the state."""
    r = await c.post(f"/api/collab/kernels/{path}", json={}, timeout=60)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def state_of(c: httpx.AsyncClient, path: str) -> dict[str, Any]:
    r = await c.get(f"/api/collab/kernels/{path}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def wait_state(c: httpx.AsyncClient, path: str, check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check(state := await state_of(c, path)):
        assert time.monotonic() < deadline, f"kernel state not reached: {state}"
        await asyncio.sleep(0.05)


def running(cell_id: str) -> Any:
    return lambda s: any(c["cell_id"] == cell_id and c["state"] == "running" for c in s["cells"])


async def test_two_jupyterlabs_opening_a_notebook_share_one_kernel(kserver):
    """JupyterLab creates its session under a placeholder path, then renames it to the
    notebook (PATCH): the first one's kernel becomes the notebook's, the second one gets it."""
    path = write_notebook(kserver.root, ["1"])
    kernel_ids = []
    async with kserver.client(RUNNER) as c, kserver.client(ADMIN) as ada:
        for client in (c, ada):
            r = await client.post(
                "/api/sessions",
                json={
                    "path": "ab12-placeholder",
                    "type": "notebook",
                    "name": path,
                    "kernel": {"name": "python3"},
                },
                timeout=60,
            )
            assert r.status_code == 201, r.text
            r = await client.patch(
                f"/api/sessions/{r.json()['id']}", json={"path": path}, timeout=60
            )
            assert r.status_code == 200, r.text
            kernel_ids.append(r.json()["kernel"]["id"])
        assert kernel_ids[0] == kernel_ids[1]
        state = await state_of(c, path)
        assert (
            state["kernel"]["id"] == kernel_ids[0] and state["kernel"]["runs_as"] == "Rita Runner"
        )
        for _ in range(100):  # the second session's own kernel is being shut down
            kernels = [k["id"] for k in (await ada.get("/api/kernels")).json()]
            if kernels == kernel_ids[:1]:
                break
            await asyncio.sleep(0.05)
        assert kernels == kernel_ids[:1]


async def test_shapes_staleness_dedupe_run_all_and_the_log(kserver):
    from collab_server.kernels.requests import source_hash

    sources = ["import time\ntime.sleep(1.5)", "print('b')", "1/0", "print('never')"]
    path = write_notebook(kserver.root, sources)
    ids = cell_ids(kserver, path)
    async with kserver.client(RUNNER) as c:
        state = await start_kernel(c, path)
        kernel_id, document_id = state["kernel"]["id"], state["document_id"]
        assert state["kernel"]["started_by"]["username"] == "rita"
        url = f"/api/kernels/{kernel_id}/execute"
        # jupyter-server-nbmodel's shape: code that is no longer the cell's is refused.
        r = await c.post(
            url, json={"code": "x", "metadata": {"cell_id": ids[1], "document_id": document_id}}
        )
        assert r.status_code == 409 and "edited" in r.json()["message"]
        r = await c.post(url, json={"cell_id": "nope", "document_id": document_id})
        assert r.status_code == 404
        r = await c.post(url, json={"cell_id": ids[1]})
        assert r.status_code == 400 and "document_id" in r.json()["message"]
        # Dedupe: a cell asked twice while it waits runs once.
        first = asyncio.create_task(
            c.post(url, json={"cell_id": ids[0], "document_id": document_id}, timeout=30)
        )
        await wait_state(c, path, running(ids[0]))
        body = {"code": sources[1], "metadata": {"cell_id": ids[1], "document_id": document_id}}
        twice = await asyncio.gather(
            c.post(url, json=body, timeout=30), c.post(url, json=body, timeout=30)
        )
        assert (await first).status_code == 200
        assert [r.status_code for r in twice] == [200, 200]
        assert twice[0].json()["started_at"] == twice[1].json()["started_at"]
        # Run all (jupyter-server-documents' shape): stops at the error.
        batch = {
            "document_id": document_id,
            "cells": [
                {"cell_id": i, "source_hash": source_hash(s)}
                for i, s in zip(ids, sources, strict=True)
            ],
        }
        r = await c.post(url, json=batch, timeout=30)
        assert r.status_code == 422
        assert [x["status"] for x in r.json()["cells"]] == ["ok", "ok", "error", "aborted"]
        assert r.json()["cells"][2]["ename"] == "ZeroDivisionError"
        # A stale hash runs nothing.
        batch["cells"][0]["source_hash"] = "1"
        assert (await c.post(url, json=batch)).status_code == 409

        # The execution log: newest first, paginated; readers may read it.
        r = await c.get("/api/collab/executions", params={"path": path, "limit": 3})
        page = r.json()
        assert [e["cell_id"] for e in page["executions"]] == [ids[3], ids[2], ids[1]]
        assert page["executions"][0]["status"] == "aborted" and page["next"] is not None
        r = await c.get("/api/collab/executions", params={"path": path, "before": page["next"]})
        rest = [(e["cell_id"], e["status"], e["who"]) for e in r.json()["executions"]]
        assert rest == [(ids[0], "ok", "rita"), (ids[1], "ok", "rita"), (ids[0], "ok", "rita")]
        assert r.json()["next"] is None
    async with kserver.client("viewer-token") as v:
        assert (await v.get("/api/collab/executions", params={"path": path})).status_code == 200
    async with kserver.client("tenant-a-token") as t:
        assert (await t.get("/api/collab/executions", params={"path": path})).status_code == 403
    client = await YClient.connect(kserver, path, "viewer-token")
    try:
        cells = client.content()["cells"]
        assert cells[3]["outputs"] == [] and cells[3]["execution_count"] is None
        assert cells[2]["outputs"][0]["ename"] == "ZeroDivisionError"
    finally:
        await client.close()


async def test_input_answered_by_another_person_interrupt_and_restart(kserver):
    sources = [
        "name = input('Name? ')\nprint('hello', name)",
        "import time\ntime.sleep(30)",
        "print('after')",
        "print(name)",
    ]
    path = write_notebook(kserver.root, sources)
    ids = cell_ids(kserver, path)
    async with (
        kserver.client(RUNNER) as c,
        kserver.client(ADMIN) as ada,
        kserver.client("alice-token") as alice,
    ):
        kernel_id = await new_session(c, path)
        document_id = (await state_of(c, path))["document_id"]
        url = f"/api/kernels/{kernel_id}/execute"

        def run(i: int) -> asyncio.Task[httpx.Response]:
            return asyncio.create_task(
                c.post(url, json={"cell_id": ids[i], "document_id": document_id}, timeout=40)
            )

        asking = run(0)
        await wait_state(c, path, lambda s: s["input"] is not None)
        # The prompt is part of the state (a page that reloads shows it again), to everyone.
        assert (await state_of(alice, path))["input"]["prompt"] == "Name? "
        r = await alice.post(f"/api/collab/kernels/{path}/input", json={"value": "Eve"})
        assert r.status_code == 403
        r = await ada.post(f"/api/collab/kernels/{path}/input", json={"value": "Ann"})
        assert r.status_code == 200 and r.json()["input"] is None
        assert (await asking).status_code == 200
        r = await ada.post(f"/api/collab/kernels/{path}/input", json={"value": "again"})
        assert r.status_code == 409

        # Interrupt through jupyter_server's route: the running cell stops, the queue drains.
        sleeping = run(1)
        await wait_state(c, path, running(ids[1]))
        waiting = run(2)
        await wait_state(c, path, lambda s: len(s["cells"]) == 2)
        r = await c.post(f"/api/kernels/{kernel_id}/interrupt")
        assert r.status_code == 204
        r1, r2 = await sleeping, await waiting
        assert (r1.status_code, r1.json()["ename"]) == (422, "KeyboardInterrupt")
        assert (r2.status_code, r2.json()["status"], r2.json()["started_at"]) == (
            422,
            "aborted",
            None,
        )

        # Restart through our route: the running cell is reset, the kernel forgets.
        sleeping = run(1)
        await wait_state(c, path, running(ids[1]))
        r = await c.post(f"/api/collab/kernels/{path}/restart")
        assert r.status_code == 200 and r.json()["cells"] == []
        assert (await sleeping).json()["status"] == "aborted"
        r = await run(3)
        assert (r.status_code, r.json()["ename"], r.json()["execution_count"]) == (
            422,
            "NameError",
            1,
        )

    client = await YClient.connect(kserver, path, "viewer-token")
    try:
        cells = client.content()["cells"]
        assert cells[0]["outputs"][0] == {
            "output_type": "stream",
            "name": "stdin",
            "text": "Name? Ann\n",
        }
        assert stdout_of(cells[0]["outputs"]) == "hello Ann\n"
        assert cells[2]["outputs"] == []
        assert all(
            cell.get("execution_state", "idle") == "idle" for cell in client.notebook.ycells.to_py()
        )
    finally:
        await client.close()


async def test_long_stream_capped_identity_in_the_kernel_and_a_kernel_that_dies(kserver):
    path = write_notebook(
        kserver.root,
        [
            "for i in range(2000):\n    print(f'line {i:05d}')",
            "import os\nprint(os.environ['COLLAB_TEST_USER'])",
            "import os\nos._exit(1)",
        ],
    )
    ids = cell_ids(kserver, path)
    async with kserver.client(RUNNER) as c, kserver.client(ADMIN) as ada:
        state = await start_kernel(c, path)
        url = f"/api/kernels/{state['kernel']['id']}/execute"

        async def run(client: httpx.AsyncClient, i: int) -> httpx.Response:
            body = {"cell_id": ids[i], "document_id": state["document_id"]}
            return await client.post(url, json=body, timeout=30)

        r = await run(c, 0)
        assert r.status_code == 200 and r.json()["stream_kept"] is True
        # The kernel carries the identity of the person who started it, whoever runs a cell.
        assert (await run(ada, 1)).status_code == 200
        # A kernel that dies under a cell: the cell says so, and the page sees the state.
        r = await run(ada, 2)
        assert (r.status_code, r.json()["status"], r.json()["ename"]) == (
            422,
            "aborted",
            "DeadKernelError",
        )
        # jupyter_server restarts it; the notebook's kernel runs again.
        await wait_state(c, path, lambda s: s["state"] == "idle", timeout=30)
        assert (await run(c, 1)).status_code == 200
    full = "".join(f"line {i:05d}\n" for i in range(2000))
    async with kserver.client("viewer-token") as v:
        r = await v.get(f"/api/collab/kernels/{path}/cells/{ids[0]}/stream")
        assert r.status_code == 200 and r.text == full
    async with kserver.client("tenant-a-token") as t:
        assert (await t.get(f"/api/collab/kernels/{path}/cells/{ids[0]}/stream")).status_code == 403
    client = await YClient.connect(kserver, path, "viewer-token")
    try:
        text = stdout_of(outputs_of(client, 0))
        assert len(text) < 4200 and "bytes truncated" in text
        assert text.startswith("line 00000\n") and text.endswith("line 01999\n")
        assert stdout_of(outputs_of(client, 1)) == "rita\n"
        assert outputs_of(client, 2)[-1]["ename"] == "DeadKernelError"
    finally:
        await client.close()


async def test_people_without_execute_cannot_run_or_reach_the_kernel(kserver):
    import websockets

    path = write_notebook(kserver.root, ["1"])
    ids = cell_ids(kserver, path)
    async with kserver.client(RUNNER) as c:
        kernel_id = await new_session(c, path)
        document_id = (await state_of(c, path))["document_id"]
    for token in ("viewer-token", "commenter-token", "alice-token"):
        async with kserver.client(token) as other:
            r = await other.post(
                f"/api/kernels/{kernel_id}/execute",
                json={"cell_id": ids[0], "document_id": document_id},
            )
            assert r.status_code == 403, token
            for action in ("interrupt", "restart"):
                assert (await other.post(f"/api/kernels/{kernel_id}/{action}")).status_code == 403
                assert (await other.post(f"/api/collab/kernels/{path}/{action}")).status_code == 403
            r = await other.post(
                "/api/sessions",
                json={"path": path, "type": "notebook", "kernel": {"name": "python3"}},
            )
            assert r.status_code == 403
            assert (await other.post(f"/api/collab/kernels/{path}")).status_code == 403
            assert (
                await other.post(f"/api/collab/kernels/{path}/input", json={"value": "x"})
            ).status_code == 403
            # Everyone who may read sees the state.
            assert (await other.get(f"/api/collab/kernels/{path}")).json()["state"] in (
                "idle",
                "busy",
            )
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(
                    f"{kserver.ws_url}/api/kernels/{kernel_id}/channels?token={token}"
                )
            assert refused.value.response.status_code == 403
    # Someone who may run code elsewhere neither reaches this notebook's kernel nor learns of
    # its session.
    tara = "tenant-a-runner-token"
    async with kserver.client(tara) as other:
        assert (await other.get(f"/api/kernels/{kernel_id}")).status_code == 403
        assert (await other.post(f"/api/kernels/{kernel_id}/interrupt")).status_code == 403
        sessions = (await other.get("/api/sessions")).json()
        assert sessions == []
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(
                f"{kserver.ws_url}/api/kernels/{kernel_id}/channels?token={tara}"
            )
    async with kserver.client(RUNNER) as c:
        assert [s["path"] for s in (await c.get("/api/sessions")).json()] == [path]
    # The runner reaches the kernel websocket.
    ws = await websockets.connect(
        f"{kserver.ws_url}/api/kernels/{kernel_id}/channels?token={RUNNER}"
    )
    await ws.close()


async def test_jupyterlab_page_runs_cells_on_the_server(kserver):
    async with kserver.client(ADMIN) as c:
        r = await c.get("/lab")
        assert r.status_code == 200
        assert '"serverSideExecution": "true"' in r.text


async def test_limits_culling_and_a_crash_leave_no_kernel_behind(spawn_server):
    import psutil

    server = spawn_server(
        "--CollabServer.max_kernels_per_user=1",
        "--CollabServer.max_kernels=2",
        "--CollabServer.kernel_cull_idle_seconds=1",
    )
    # A kernel that outlives its parent (ipykernel watches its parent; other kernels may not).
    # Its parent watch still runs and says so in a file: the barrier that it saw the server go.
    tried = server.root / "tried-to-exit"
    stubborn = (
        f"import os, time\nos._exit = lambda *a: open({str(tried)!r}, 'w').close()\n"
        "print('busy', flush=True)\ntime.sleep(120)"
    )
    busy = write_notebook(server.root, [stubborn])
    other, third = write_notebook(server.root, ["1"]), write_notebook(server.root, ["1"])
    busy_cell = cell_ids(server, busy)[0]
    async with server.client(RUNNER) as rita, server.client(ADMIN) as ada:
        state = await start_kernel(rita, busy)
        kernel_id = state["kernel"]["id"]
        running_cell = asyncio.create_task(
            rita.post(
                f"/api/kernels/{kernel_id}/execute",
                json={"cell_id": busy_cell, "document_id": state["document_id"]},
                timeout=120,
            )
        )
        await wait_state(rita, busy, running(busy_cell))
        # Limits: one kernel per person, two on the server.
        r = await rita.post(f"/api/collab/kernels/{other}")
        assert r.status_code == 429 and "most one person may" in r.json()["message"]
        r = await rita.post("/api/kernels", json={"name": "python3"})
        assert r.status_code == 429
        # Two starts at once cannot both take the last place.
        both = await asyncio.gather(
            ada.post(f"/api/collab/kernels/{other}", timeout=60),
            ada.post(f"/api/collab/kernels/{third}", timeout=60),
        )
        assert sorted(r.status_code for r in both) == [201, 429]
        assert (
            "maximum of 2 kernels"
            in next(r for r in both if r.status_code == 429).json()["message"]
        )
        # The idle kernel of an empty notebook is culled; the busy one stays.
        for culled in (other, third):
            await wait_state(ada, culled, lambda s: s["state"] == "none", timeout=20)
        for _ in range(200):  # the culled kernel's process is being shut down
            kernels = [k["id"] for k in (await ada.get("/api/kernels")).json()]
            if kernels == [kernel_id]:
                break
            await asyncio.sleep(0.05)
        assert kernels == [kernel_id]
        record = json.loads((server.data / "kernels" / "running" / f"{kernel_id}.json").read_text())
        pid = record["pid"]
        assert psutil.Process(pid).is_running()

        server.kill()
        with pytest.raises(httpx.HTTPError):
            await running_cell
        # Barrier: ipykernel's parent poll found the server gone (and could not exit).
        await wait_until(tried.exists, 30)
        assert psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        server.restart()

        def gone() -> bool:
            return (
                not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            )

        await wait_until(gone, 10)
        assert "left running by a crash" in server.log()
        # The page can tell the kernel was lost, and the cell is no longer running.
        assert (await state_of(rita, busy))["state"] == "lost"
        client = await YClient.connect(server, busy, "viewer-token")
        try:
            assert client.notebook.ycells[0]["execution_state"] == "idle"
        finally:
            await client.close()
        state = await start_kernel(rita, busy)
        assert state["state"] == "idle" and state["kernel"]["id"] != kernel_id


async def test_runs_on_the_shared_kernel_feed_the_gallery_health(kserver):
    """The execution log is the health formula's input: a run on the server's kernel counts as
    a run of the notebook and makes it healthy (1 person, every cell passed, full depth)."""
    path = write_notebook(kserver.root, ["x = 1", "x + 1"])
    ids = cell_ids(kserver, path)
    async with kserver.client(RUNNER) as c:
        state = await start_kernel(c, path)
        url = f"/api/kernels/{state['kernel']['id']}/execute"
        for cell_id in ids:
            r = await c.post(
                url, json={"cell_id": cell_id, "document_id": state["document_id"]}, timeout=30
            )
            assert r.status_code == 200, r.text

        async def info() -> dict[str, Any]:
            r = await c.get(f"/api/collab/notebooks/{path}/info")
            if r.status_code == 404:  # written on disk: indexed by the next scan
                return {"health": {}}
            assert r.status_code == 200, r.text
            return dict(r.json())

        deadline = time.monotonic() + 30
        while (got := await info())["health"].get("label") != "healthy":
            assert time.monotonic() < deadline, got
            await asyncio.sleep(0.1)
        assert got["runs"] == 1  # two cells, one run of the notebook by one person
        assert "1 run by 1 person" in got["health"]["explanation"]
