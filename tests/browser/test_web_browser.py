"""The notebook browser in real Chromium: search through the folders below, a name for a new
notebook, rename in a dialog, a missing folder, the person's real role, upload and download."""

from __future__ import annotations

import json
from typing import Any

from conftest import write_notebook
from support.browser import needs_chromium, open_page

pytestmark = needs_chromium


async def open_folder(browser: Any, server: Any, folder: str, token: str = "alice-token") -> Any:
    page = await open_page(browser, server, "/", token)
    await page.goto(f"{server.http_url}/?path={folder}")
    await page.wait_for_selector(".entries")
    return page


async def test_search_looks_in_the_folders_below(browser, server):
    write_notebook(server.root, ["x"], "tree/deep/er/needle-in-hay.ipynb")
    write_notebook(server.root, ["x"], "tree/hay.ipynb")
    page = await open_folder(browser, server, "tree")
    await page.fill('input[type="search"]', "needle")
    await page.wait_for_selector(".entry a:has-text('tree/deep/er/needle-in-hay.ipynb')")
    assert "hay.ipynb" not in [t.strip() for t in await page.locator(".entry a").all_inner_texts()]
    await page.click(".entry a:has-text('needle-in-hay')")
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')


async def test_new_notebooks_get_a_name_and_rename_asks_in_a_dialog(browser, server):
    write_notebook(server.root, ["x"], "named/existing.ipynb")
    page = await open_folder(browser, server, "named")
    await page.click("button:has-text('New notebook')")
    await page.fill("dialog input", "existing")
    await page.click("dialog button[type=submit]")
    await page.wait_for_selector("dialog .error:has-text('already here')")
    await page.fill("dialog input", "Quarterly plan")
    await page.click("dialog button[type=submit]")
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    assert page.url.endswith("/notebooks/named/Quarterly%20plan.ipynb")
    assert (server.root / "named/Quarterly plan.ipynb").exists()
    page = await open_folder(browser, server, "named")
    await page.click("button[aria-label='Rename existing.ipynb']")
    await page.fill("dialog input", "kept.ipynb")
    await page.click("dialog button[type=submit]")
    await page.wait_for_selector(".entry a:has-text('kept.ipynb')")
    assert (server.root / "named/kept.ipynb").exists()


async def test_a_missing_folder_says_so_with_a_way_up(browser, server):
    page = await open_page(browser, server, "/", "alice-token")
    await page.goto(f"{server.http_url}/?path=no/such/folder")
    error = await page.wait_for_selector('[data-testid="folder-error"]')
    assert "does not exist" in await error.inner_text()
    assert "404" not in await error.inner_text()
    await page.click('[data-testid="folder-error"] a')
    await page.wait_for_function(
        "() => new URLSearchParams(location.search).get('path') === 'no/such'"
    )
    await page.screenshot(path="tests/artifacts/missing-folder.png")


async def test_a_commenter_sees_the_commenter_role(browser, server):
    page = await open_page(browser, server, "/", "commenter-token")
    await page.wait_for_selector('[data-testid="role"]')
    assert await page.inner_text('[data-testid="role"]') == "commenter"


async def test_upload_and_download_notebooks(browser, server, tmp_path):
    write_notebook(server.root, ["x"], "updown/here.ipynb")
    page = await open_folder(browser, server, "updown")
    good = tmp_path / "uploaded.ipynb"
    good.write_text(json.dumps({
        "cells": [{"cell_type": "code", "source": "print(1)", "metadata": {}, "outputs": [],
                   "execution_count": None, "id": "c1"}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }))  # fmt: skip
    await page.set_input_files('input[type="file"]', str(good))
    await page.wait_for_selector(".entry a:has-text('uploaded.ipynb')")
    assert json.loads((server.root / "updown/uploaded.ipynb").read_text())["cells"][0]["source"]
    bad = tmp_path / "notes.txt"
    bad.write_text("not a notebook")
    await page.set_input_files('input[type="file"]', str(bad))
    await page.wait_for_selector(".status.error:has-text('not a Jupyter notebook')")
    async with page.expect_download() as download:
        await page.click("button[aria-label='Download here.ipynb']")
        await page.click(".entry [data-testid='download-ipynb']")
    saved = tmp_path / "downloaded.ipynb"
    await (await download.value).save_as(saved)
    assert json.loads(saved.read_text())["cells"][0]["source"] == "x"
    await page.screenshot(path="tests/artifacts/browser.png")
