"""Stock JupyterLab runs cells on the server in our rooms (``serverSideExecution``): the
output reaches JupyterLab, a pycrdt client and our own page in a second browser through the
shared document, and what our page runs shows in JupyterLab."""

from __future__ import annotations

import asyncio
import importlib.util
import time

import pytest

from conftest import write_notebook
from support.browser import needs_chromium, open_page
from support.jupyterlab import kernel_idle, settle_kernel_choice
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
        await settle_kernel_choice(page, accept=True)  # "Select Kernel": take the default
        await kernel_idle(page)
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


async def test_jupyterlab_and_our_page_see_each_others_runs(browser, server):
    """A JupyterLab user and a person on our page, in two browsers, on one notebook: what
    JupyterLab runs (on the server) shows on our page, and what our page runs shows in
    JupyterLab."""
    path = write_notebook(
        server.root, ["print('from lab', 6 * 7)", "print('from our page', 7 * 8)"], "lab/both.ipynb"
    )
    lab = await open_page(browser, server, f"/lab/workspaces/both/tree/{path}", "runner-token")
    ours = await open_page(browser, server, f"/notebooks/{path}", "admin-token")
    try:
        await ours.wait_for_selector('[data-testid="connection"][data-state="connected"]')
        await ours.wait_for_selector('[data-testid="kernel-status"]')
        editors = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .cm-content"
        await lab.wait_for_selector(editors, timeout=60_000)
        await settle_kernel_choice(lab, accept=True)  # "Select Kernel": take the default
        await kernel_idle(lab)
        # JupyterLab runs the first cell: our page shows its output and its count.
        await lab.locator(editors).first.click()
        await lab.keyboard.press("Control+Enter")
        await lab.wait_for_selector(".jp-OutputArea-output >> text=from lab 42", timeout=30_000)
        await ours.wait_for_function(
            "() => (document.querySelectorAll('.cell')[0]?.querySelector('.outputs')"
            "?.textContent || '').includes('from lab 42')",
            timeout=30_000,
        )
        await ours.wait_for_function(
            "() => document.querySelectorAll('.cell')[0]"
            "?.querySelector('[data-testid=prompt]')?.textContent === '[1]'",
            timeout=30_000,
        )
        # Our page runs the second cell on the same kernel: JupyterLab shows the output.
        await ours.locator(".cell >> nth=1").locator(".run-cell").click()
        second = ".jp-Cell >> nth=1"
        await lab.wait_for_selector(
            f"{second} >> .jp-OutputArea-output >> text=from our page 56", timeout=30_000
        )
        await lab.wait_for_selector(f"{second} >> .jp-InputPrompt >> text=[2]", timeout=30_000)
        async with server.client("runner-token") as c:
            state = (await c.get(f"/api/collab/kernels/{path}")).json()
            sessions = (await c.get("/api/sessions")).json()
            # A run is logged once it has ended (its reply and the kernel idle), after its
            # output and count were shown: wait for both entries.
            deadline = time.monotonic() + 30
            while True:
                log = (await c.get("/api/collab/executions", params={"path": path})).json()
                if len(log["executions"]) >= 2:
                    break
                assert time.monotonic() < deadline, log
                await asyncio.sleep(0.05)
        # Both ran through the server (JupyterLab's run too: serverSideExecution), each as
        # its own person.
        assert [(e["status"], e["who"]) for e in log["executions"]] == [
            ("ok", "admin"),
            ("ok", "rita"),
        ]
        # One shared kernel: JupyterLab's session is on the notebook's kernel.
        assert [s["kernel"]["id"] for s in sessions if s["path"] == path] == [state["kernel"]["id"]]
        assert not lab.errors and not ours.errors
    finally:
        await lab.context.close()
        await ours.context.close()
        async with server.client("runner-token") as c:
            state = (await c.get(f"/api/collab/kernels/{path}")).json()
            if state.get("kernel"):
                await c.delete(f"/api/kernels/{state['kernel']['id']}")
