"""Files and account from the web page, in real Chromium: downloading a notebook (.ipynb, HTML,
Python script) from the editor and the browser, deleting a notebook from the editor, the
settings page with your API tokens, the user menu, and the keyboard shortcuts dialog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import nbformat

from conftest import write_notebook
from support.browser import needs_chromium, open_page

pytestmark = needs_chromium


async def open_notebook(browser: Any, server: Any, path: str, token: str, **kw: Any) -> Any:
    page = await open_page(browser, server, f"/notebooks/{path}", token, **kw)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await page.wait_for_selector(".cell .cm-content")
    return page


async def downloaded(page: Any, click: Any) -> tuple[str, str]:
    """Run ``click`` and return the name and text of the file it downloads."""
    async with page.expect_download() as info:
        await click()
    download = await info.value
    return download.suggested_filename, Path(await download.path()).read_text()


async def test_download_a_notebook_from_the_editor_and_the_browser(browser, server):
    path = write_notebook(server.root, ["print('from the file')"], "files/report.ipynb")
    nb = nbformat.read(server.root / path, as_version=4)
    # The script's extension is the kernel's language's (a notebook without one gets ".txt").
    nb.metadata["language_info"] = {"name": "python", "file_extension": ".py"}
    nbformat.write(nb, server.root / path)
    page = await open_notebook(browser, server, path, "viewer-token")  # reading is enough

    async def from_menu(format: str) -> Any:
        async def click() -> None:
            await page.click('[data-testid="more"]')
            await page.click(f'[data-testid="download-{format}"]')

        return click

    name, text = await downloaded(page, await from_menu("ipynb"))
    assert name == "report.ipynb"
    assert json.loads(text)["cells"][0]["source"] == "print('from the file')"
    name, text = await downloaded(page, await from_menu("script"))
    assert name == "report.py" and "print('from the file')" in text
    name, text = await downloaded(page, await from_menu("html"))
    assert name == "report.html" and "from the file" in text and "<html" in text.lower()
    # The notebook browser: each notebook's download menu.
    await page.goto(f"{server.http_url}/?path=files")
    await page.wait_for_selector(".entry a:has-text('report.ipynb')")

    async def from_browser() -> None:
        await page.click('.entry button[aria-label="Download report.ipynb"]')
        await page.click('.entry [data-testid="download-script"]')

    name, text = await downloaded(page, from_browser)
    assert name == "report.py" and "print('from the file')" in text
    assert page.errors == []


async def test_a_download_from_the_editor_has_what_was_just_typed(browser, server):
    path = write_notebook(server.root, ["first"], "files/fresh.ipynb")
    page = await open_notebook(browser, server, path, "alice-token")
    await page.click(".cell .cm-content")
    await page.keyboard.press("End")
    await page.keyboard.type(" and just typed")

    async def click() -> None:
        await page.click('[data-testid="more"]')
        await page.click('[data-testid="download-ipynb"]')

    _, text = await downloaded(page, click)
    assert json.loads(text)["cells"][0]["source"] == "first and just typed"


async def test_a_failed_download_is_shown_not_navigated_to(browser, server):
    path = write_notebook(server.root, ["x"], "files/gone.ipynb")
    page = await open_notebook(browser, server, path, "alice-token")
    (server.root / path).unlink()  # deleted behind the page's back
    await page.click('[data-testid="more"]')
    await page.click('[data-testid="download-html"]')
    await page.wait_for_selector(".toast.error:has-text('Could not download gone.ipynb')")
    assert page.url.endswith("/notebooks/files/gone.ipynb")


async def test_delete_a_notebook_from_the_editor(browser, server):
    path = write_notebook(server.root, ["doomed"], "files/doomed.ipynb")
    write_notebook(server.root, ["stays"], "files/stays.ipynb")
    page = await open_notebook(browser, server, path, "alice-token")
    deletes: list[str] = []
    page.on(
        "request",
        lambda r: deletes.append(r.url) if r.method == "DELETE" and "doomed" in r.url else None,
    )
    # Cancelling the confirmation keeps it.
    await page.click('[data-testid="more"]')
    await page.click('[data-testid="delete-notebook"]')
    await page.click("dialog[open] button:has-text('Cancel')")
    await page.wait_for_selector("dialog[open]", state="detached")
    assert (server.root / path).exists()
    await page.click('[data-testid="more"]')
    await page.click('[data-testid="delete-notebook"]')
    await page.click("dialog[open] button:has-text('Delete')")
    await page.wait_for_selector(".entry a:has-text('stays.ipynb')")  # the folder it was in
    assert page.url.endswith("/?path=files")
    assert not (server.root / path).exists()
    assert len(deletes) == 1  # the confirmed one (after it, the cancelled one sent nothing)
    # A viewer is not offered deletion.
    viewer = await open_notebook(browser, server, "files/stays.ipynb", "viewer-token")
    await viewer.click('[data-testid="more"]')
    await viewer.wait_for_selector('[data-testid="download-ipynb"]')
    assert await viewer.query_selector('[data-testid="delete-notebook"]') is None


async def sign_in(server: Any, name: str) -> str:
    async with httpx.AsyncClient(base_url=server.http_url) as c:
        r = await c.post(
            "/api/collab/login", json={"username": name, "password": f"{name}-password-1"}
        )
        return str(r.json()["token"])


async def test_settings_page_creates_shows_once_and_revokes_api_tokens(browser, tmp_path):
    from support.server import ServerProcess

    server = ServerProcess(tmp_path, provider=None, ready_token=None)
    assert server.create_user("olga", "olga-password-1").returncode == 0
    server.start()
    try:
        page = await open_page(browser, server, "/", await sign_in(server, "olga"))
        await page.wait_for_selector(".entries")
        # The user menu leads to the settings page.
        await page.click('[data-testid="user-menu"]')
        await page.click('[data-testid="menu-settings"]')
        await page.wait_for_selector('[data-testid="tokens"]:has-text("You have no API tokens")')
        assert page.url.endswith("/settings")
        await page.fill("#token-label", "laptop script")
        await page.select_option("#token-expiry", "7")
        await page.click("button:has-text('Create token')")
        shown = await page.wait_for_selector('[data-testid="new-token"]:not([hidden])')
        assert "shown only this once" in await shown.inner_text()
        token = await page.input_value('[data-testid="token-value"]')
        row = await page.wait_for_selector("tr[data-token-id]:has-text('laptop script')")
        assert token not in await row.inner_text()  # the list never shows a secret
        # The token works, as olga.
        async with server.client(token) as c:
            me = (await c.get("/api/collab/me")).json()
            assert me["identity"]["username"] == "olga"
        # Reloaded, the secret is gone for good; the token is still listed.
        await page.reload()
        await page.wait_for_selector("tr[data-token-id]:has-text('laptop script')")
        assert token not in await page.inner_text("body")
        # Revoked (after a confirmation): it stops working at once.
        await page.click("tr[data-token-id] button:has-text('Revoke')")
        await page.click("dialog[open] button:has-text('Revoke')")
        await page.wait_for_selector('[data-testid="tokens"]:has-text("You have no API tokens")')
        async with server.client(token) as c:
            assert (await c.get("/api/collab/me")).status_code == 401
        # Sign out from the user menu: back to the sign-in page.
        await page.click('[data-testid="user-menu"]')
        await page.click('[data-testid="menu-sign-out"]')
        await page.wait_for_url("**/login**")
        await page.goto(f"{server.http_url}/settings")
        await page.wait_for_url("**/login**")
        assert page.errors == []
    finally:
        server.stop()


async def test_keyboard_shortcuts_on_question_mark_and_in_the_user_menu(browser, server):
    path = write_notebook(server.root, ["x"], "files/keys.ipynb")
    page = await open_notebook(browser, server, path, "alice-token")
    await page.keyboard.press("?")
    dialog = await page.wait_for_selector("dialog.shortcuts[open]")
    text = await dialog.inner_text()
    assert "Shift+Enter" in text and "Make the cell Markdown / code" in text
    await page.keyboard.press("Escape")
    await page.wait_for_selector("dialog.shortcuts", state="detached")
    # Typing "?" in a cell is text, not the dialog.
    await page.click(".cell .cm-content")
    await page.keyboard.press("End")
    await page.keyboard.type("?")
    # Barrier: the key reached the cell (the page's key handler has seen it and let it be).
    await page.wait_for_selector(".cell .cm-content:has-text('x?')")
    assert await page.query_selector("dialog.shortcuts") is None
    await page.keyboard.press("Escape")
    await page.click('[data-testid="user-menu"]')
    await page.click('[data-testid="menu-shortcuts"]')
    await page.wait_for_selector("dialog.shortcuts[open]")
    assert page.errors == []
