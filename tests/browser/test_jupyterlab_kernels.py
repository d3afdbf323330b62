"""Stock JupyterLab runs cells on the server in our rooms (``serverSideExecution``): the
output reaches JupyterLab and a pycrdt client through the shared document."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from conftest import write_notebook
from support.browser import needs_chromium, open_page
from support.yclient import YClient, wait_until

pytestmark = [
    needs_chromium,
    pytest.mark.skipif(
        importlib.util.find_spec("jupyterlab") is None, reason='needs pip install ".[lab]"'
    ),
    pytest.mark.timeout(180),
]


async def test_stock_jupyterlab_runs_a_cell_on_the_server(browser, server):
    path = write_notebook(server.root, ["print('ran', 6 * 7)"], "lab/run.ipynb")
    python = await YClient.connect(server, path, "bob-token")
    # A workspace of its own: JupyterLab would otherwise restore other tests' open notebooks.
    page = await open_page(browser, server, f"/lab/workspaces/kernels/tree/{path}", "runner-token")
    try:
        editor = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .cm-content"
        await page.wait_for_selector(editor, timeout=60_000)
        await asyncio.sleep(1)
        if await page.query_selector(".jp-Dialog"):  # "Select Kernel": take the default
            await page.click(".jp-Dialog .jp-mod-accept")
            await page.wait_for_selector(".jp-Dialog", state="detached")
        await page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
        )
        async with server.client("runner-token") as c:
            state = (await c.get(f"/api/collab/kernels/{path}")).json()
            kernels = (await c.get("/api/kernels")).json()
        # The session's kernel is the notebook's kernel, and the only one.
        assert state["kernel"] is not None and [k["id"] for k in kernels] == [state["kernel"]["id"]]
        await page.click(editor)
        await page.keyboard.press("Shift+Enter")
        await page.wait_for_selector(".jp-OutputArea-output >> text=ran 42", timeout=30_000)

        def printed() -> bool:
            outputs = python.content()["cells"][0]["outputs"]
            return bool(outputs) and outputs[0].get("text") == "ran 42\n"

        await wait_until(printed, 10)
        assert python.content()["cells"][0]["execution_count"] == 1
        assert not page.errors
    finally:
        await python.close()
        await page.context.close()
