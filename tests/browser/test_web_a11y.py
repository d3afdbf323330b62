"""Accessibility of every page, checked with axe-core in real Chromium: the notebook browser,
the editor as an editor, a commenter and a viewer, the not-found pages, the settings page, the
administration page and the sign-in page. A ``critical`` violation fails; ``serious`` ones fail
too (we fixed them all: keep it so)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from axe import axe_violations, describe

from support.browser import needs_chromium, open_page

pytestmark = needs_chromium

FAILING = {"critical", "serious"}


def sample_notebook(root: Any, name: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A title\n\nSome *text* and a [link](https://example.org)."),
        nbformat.v4.new_code_cell("print('hello')", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="hello\n"),
            nbformat.v4.new_output("display_data", data={"text/html": "<b>bold</b>"}),
        ]),
    ]  # fmt: skip
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return name


REPORT = Path("tests/artifacts/axe")


async def check(page: Any, what: str) -> None:
    found = await axe_violations(page)
    # Everything axe says (moderate and minor too) is kept for a person to read.
    REPORT.mkdir(parents=True, exist_ok=True)
    (REPORT / f"{what.replace(' ', '-').replace(',', '')}.txt").write_text(describe(found) + "\n")
    failing = [v for v in found if v["impact"] in FAILING]
    assert not failing, f"{what}:\n{describe(failing)}"


PAGES = [
    ("browser", "alice-token", "/?path=a11y"),
    ("editor as editor", "alice-token", "/notebooks/a11y/sample.ipynb"),
    ("editor as commenter", "commenter-token", "/notebooks/a11y/sample.ipynb"),
    ("editor as viewer", "viewer-token", "/notebooks/a11y/sample.ipynb"),
    ("missing notebook", "alice-token", "/notebooks/a11y/missing.ipynb"),
    ("settings", "alice-token", "/settings"),
    ("admin", "admin-token", "/admin"),
    ("admin refused", "alice-token", "/admin"),
]


@pytest.mark.parametrize(("what", "token", "url"), PAGES, ids=[p[0] for p in PAGES])
async def test_page_has_no_serious_accessibility_violations(browser, server, what, token, url):
    sample_notebook(server.root, "a11y/sample.ipynb")
    page = await open_page(browser, server, url.split("?")[0], token)
    if "?" in url:
        await page.goto(f"{server.http_url}{url}")
    if url.startswith("/notebooks/a11y/sample"):
        await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
        await page.wait_for_selector(".cell.code .cm-content")
        await page.wait_for_selector(".markdown h1")
    elif "missing" in url:
        await page.wait_for_selector('[data-testid="not-found"]')
    elif url == "/settings":
        await page.wait_for_selector('[data-testid="settings"][data-state="ready"]')
    elif url == "/admin":
        # This server's provider cannot manage users: the page says so (tests/browser/
        # test_admin_page.py checks the page with local accounts).
        await page.wait_for_selector(
            '[data-testid="admin-unsupported"], [data-testid="admin-refused"]'
        )
    else:
        await page.wait_for_selector(".entries .entry")
    await check(page, what)
    # Open menus and dialogs are checked too.
    await page.click('[data-testid="user-menu"]')
    await page.wait_for_selector(".menu:not([hidden])")
    await check(page, f"{what}, user menu open")
    await page.keyboard.press("Escape")
    assert page.errors == []


async def test_shortcuts_dialog_and_sign_in_page(browser, server):
    page = await open_page(browser, server, "/settings", "alice-token")
    await page.wait_for_selector('[data-testid="settings"][data-state="ready"]')
    await page.keyboard.press("?")
    await page.wait_for_selector("dialog.shortcuts[open]")
    await check(page, "shortcuts dialog")
    # The sign-in page, for someone not signed in.
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    login = await context.new_page()
    refused: list[str] = []
    login.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    await login.goto(f"{server.http_url}/login")
    await login.wait_for_selector("form#login")
    # The sheet built from frontend/src/signin/ is allowed by the page's policy and applied.
    background = await login.evaluate(
        "getComputedStyle(document.querySelector('form#login')).backgroundColor"
    )
    assert background == "rgb(255, 255, 255)" and refused == []
    found = await axe_violations(login)
    (REPORT / "sign-in.txt").write_text(describe(found) + "\n")
    assert not [v for v in found if v["impact"] == "critical"], describe(found)
    await context.close()


async def test_editor_on_a_phone_with_comments(browser, server):
    """The compact save and connection states, "Comments (N)" and the count on a cell's
    comment button, on a 390-pixel-wide phone."""
    path = sample_notebook(server.root, "a11y/phone.ipynb")
    cell = nbformat.read(server.root / path, as_version=4).cells[1].id
    async with server.client("commenter-token") as c:
        body = {"target": {"type": "cell", "cellId": cell}, "body": "Why?"}
        assert (await c.post(f"/api/collab/comments/{path}", json=body)).status_code == 201
    page = await open_page(browser, server, f"/notebooks/{path}", "alice-token", width=390)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await page.wait_for_selector('.cell.code .comment-button[data-count="1"]')
    await page.wait_for_selector('[data-testid="comments-jump"]:has-text("Comments (1)")')
    await page.click(".cell.code .cm-content")
    await page.keyboard.type("# ")
    await page.wait_for_selector('[data-testid="save-state"][data-state="saved"]')
    await check(page, "editor on a phone with comments")
    assert page.errors == []
