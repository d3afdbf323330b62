"""Apps and a crash of the server (``kill -9``): a run's kernel does not outlive the server,
and after the restart the run says what happened instead of "running" for ever."""

from __future__ import annotations

import asyncio
import time

import nbformat
import psutil
from test_apps import kernel_processes


def slow_app() -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    parameters = nbformat.v4.new_code_cell("seconds = 60", id="p")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_code_cell("import time", id="a"),
        parameters,
        nbformat.v4.new_code_cell("print('started', flush=True)\ntime.sleep(seconds)", id="b"),
    ]
    return nbformat.writes(nb)


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_a_crash_leaves_no_app_kernel_and_the_run_says_why(spawn_server):
    # A warm pool too: its parked kernel must not outlive the server either.
    server = spawn_server("--CollabServer.apps_pool_size=1")
    (server.root / "slow.ipynb").write_text(slow_app())
    async with server.client("admin-token") as c:
        r = await c.post("/api/collab/publish/slow.ipynb", json={})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = await c.post(f"/api/collab/apps/{pid}/runs", json={"parameters": {}})
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        deadline = time.monotonic() + 60
        while True:  # barrier: the run is inside its long cell
            run = (await c.get(f"/api/collab/runs/{run_id}")).json()
            if run["status"] == "running" and (run["progress"] or {}).get("cell", 0) >= 3:
                break
            assert time.monotonic() < deadline, run
            await asyncio.sleep(0.1)
    kernels = kernel_processes(server)
    assert kernels, "the run has a kernel"

    server.kill()
    # ipykernel watches its parent: each kernel ends on its own within seconds.
    deadline = time.monotonic() + 30
    while not all(gone(k) for k in kernels):
        assert time.monotonic() < deadline, [k.pid for k in kernels if not gone(k)]
        await asyncio.sleep(0.2)

    server.restart()
    async with server.client("admin-token") as c:
        run = (await c.get(f"/api/collab/runs/{run_id}")).json()
        assert run["status"] == "failed", run
        assert run["error"] == {"ename": "ServerStopped",
                                "evalue": "The server stopped during the run"}  # fmt: skip
        assert run["ended"]
        # The app still runs after the restart.
        r = await c.post(f"/api/collab/apps/{pid}/runs?wait=60",
                         json={"parameters": {"seconds": 0}})  # fmt: skip
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
