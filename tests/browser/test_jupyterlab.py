"""Stock JupyterLab (the ``[lab]`` extra: jupyterlab + jupyter-docprovider +
jupyter-collaboration-ui) editing in our rooms, side by side with a pycrdt client."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import read_notebook, write_notebook
from support.browser import needs_chromium, open_page
from support.jupyterlab import settle_kernel_choice
from support.yclient import YClient, wait_until

pytestmark = [
    needs_chromium,
    pytest.mark.skipif(
        importlib.util.find_spec("jupyterlab") is None, reason='needs pip install ".[lab]"'
    ),
]


async def test_stock_jupyterlab_edits_in_our_room(browser, server):
    path = write_notebook(server.root, ["from lab"], "lab/shared.ipynb")
    page = await open_page(browser, server, f"/lab/tree/{path}", "admin-token")
    editor = ".jp-Notebook .jp-Cell .cm-content"
    await page.wait_for_selector(editor, timeout=60_000)
    # JupyterLab may ask which kernel to use ("Select Kernel"): none is needed to edit.
    await settle_kernel_choice(page, accept=False)
    python = await YClient.connect(server, path, "bob-token")
    try:
        await page.click(editor)
        await page.keyboard.press("End")
        await page.keyboard.type(" and typed")
        await wait_until(lambda: python.text(0) == "from lab and typed", 10)
        python.insert(0, None, ", then python")
        await page.wait_for_function(
            f"document.querySelector('{editor}').innerText.includes('then python')"
        )
        await wait_until(
            lambda: (
                read_notebook(server.root, path).cells[0].source
                == "from lab and typed, then python"
            ),
            10,
        )
    finally:
        await python.close()
