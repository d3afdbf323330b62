"""The Discover page (/gallery) in real Chromium: reached from the notebook browser, instant
search with a highlighted snippet (notebook text stays text), star a notebook, open it; apps
and "Open as app" for the people who may see them (accessible: axe-core)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import nbformat
from axe import axe_violations, describe

from support.browser import needs_chromium, open_page

pytestmark = needs_chromium


async def put_notebook(server: Any, path: str, markdown: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell("x = 1")]
    (server.root / path).parent.mkdir(parents=True, exist_ok=True)
    async with server.client("alice-token") as c:
        r = await c.put(f"/api/contents/{path}",
                        json={"type": "notebook", "format": "json",
                              "content": json.loads(nbformat.writes(nb))})  # fmt: skip
        assert r.status_code in (200, 201), r.text


async def wait_indexed(server: Any, word: str, count: int) -> None:
    deadline = time.monotonic() + 15
    async with server.client("admin-token") as c:
        while True:
            r = await c.get("/api/collab/search", params={"q": word})
            if r.status_code == 200 and r.json()["total"] >= count:
                return
            assert time.monotonic() < deadline, r.text
            await asyncio.sleep(0.1)


async def test_search_star_and_open_from_the_discover_page(browser, server):
    await put_notebook(server, "gal/aurora.ipynb", "# Aurora borealis\nWatching the aurora.")
    await put_notebook(server, "gal/tricky.ipynb",
                       "# Tricky\nAurora <img src=x onerror=\"window.pwned=1\"> notes")  # fmt: skip
    await wait_indexed(server, "aurora", 2)

    page = await open_page(browser, server, "/", "bob-token")
    await page.click('[data-testid="discover"]')
    await page.wait_for_url("**/gallery")
    await page.fill('[data-testid="gallery-search"]', "aurora")
    results = page.locator('[data-testid="gallery-results"]')
    card = results.locator('[data-testid="gallery-card"][data-path="gal/aurora.ipynb"]')
    await card.locator("mark").first.wait_for()
    assert (await card.locator("mark").first.inner_text()).lower() == "aurora"
    # Notebook text is shown as text: no element is ever made from it.
    tricky = results.locator('[data-testid="gallery-card"][data-path="gal/tricky.ipynb"]')
    await tricky.wait_for()
    assert await tricky.locator("mark").count() > 0
    assert await page.locator("main img").count() == 0
    assert await page.evaluate("() => window.pwned === undefined")

    star = card.locator('[data-testid="star"]')
    await star.click()
    await page.wait_for_function(
        "() => document.querySelector('[data-path=\"gal/aurora.ipynb\"] [data-testid=star]')"
        ".getAttribute('aria-pressed') === 'true'"
    )
    async with server.client("bob-token") as c:
        mine = (await c.get("/api/collab/stars")).json()["results"]
    assert [r["path"] for r in mine] == ["gal/aurora.ipynb"]

    # The health badge explains itself on focus.
    await card.locator('[data-testid="health"]').focus()
    await card.locator('[role="tooltip"]:has-text("No runs in the last 30 days")').wait_for()

    await card.locator('[data-testid="open"]').click()
    await page.wait_for_url("**/notebooks/gal/aurora.ipynb")
    await page.wait_for_selector(".cell")
    assert page.errors == []


async def test_the_discover_page_has_the_shared_top_bar(browser, server):
    page = await open_page(browser, server, "/gallery", "bob-token")
    menu = page.locator('header.topbar [data-testid="user-menu"]')
    await menu.wait_for()
    assert "Bob Editor" in await menu.inner_text()
    await menu.click()
    await page.locator('[data-testid="menu-settings"]').wait_for()
    assert await page.locator('[data-testid="menu-sign-out"]').is_visible()
    await page.keyboard.press("Escape")
    await page.click('[data-testid="your-notebooks"]')
    await page.wait_for_selector('[data-testid="discover"]')  # the notebook browser
    assert page.errors == []


async def test_cards_show_open_change_requests_to_editors(browser, server):
    path = "galcr/wombat.ipynb"
    await put_notebook(server, path, "# Wombat burrows\nWhere wombats dig.")
    await wait_indexed(server, "wombat", 1)
    async with server.client("viewer-token") as c:
        nb = (await c.get(f"/api/contents/{path}")).json()["content"]
        nb["cells"][1]["source"] = "x = 2"
        r = await c.post(f"/api/collab/notebooks/{path}/change-requests",
                         json={"message": "Two", "notebook": nb})  # fmt: skip
        assert r.status_code == 201, r.text

    async def card_for(token: str) -> Any:
        page = await open_page(browser, server, "/gallery", token)
        await page.fill('[data-testid="gallery-search"]', "wombat")
        card = page.locator(f'[data-testid="gallery-results"] [data-path="{path}"]')
        await card.wait_for()
        return page, card

    page, card = await card_for("alice-token")
    badge = card.locator('[data-testid="change-requests"]')
    assert await badge.inner_text() == "1 change request"
    assert (await badge.get_attribute("href") or "").endswith(f"/notebooks/{path}")
    assert page.errors == []
    # A reader of the notebook sees the card, not the badge.
    page, card = await card_for("viewer-token")
    await card.locator('[data-testid="open"]').wait_for()
    assert await card.locator('[data-testid="change-requests"]').count() == 0


async def test_open_as_app_from_the_gallery(browser, server):
    path = "galapp/quokka.ipynb"
    await put_notebook(server, path, "# Quokka counts\nHow many quokkas smile.")
    await wait_indexed(server, "quokka", 1)
    async with server.client("admin-token") as c:
        r = await c.post(
            f"/api/collab/publish/{path}",
            json={"title": "Quokka counter", "description": "Counts <i>quokkas</i>"},
        )
        assert r.status_code == 201, r.text
        pid = r.json()["id"]

    # A publisher who may run code: the app is among the Apps, and the notebook's card
    # offers it too.
    page = await open_page(browser, server, "/gallery", "admin-token")
    app_card = page.locator(f'[data-testid="apps"] [data-app="{pid}"]')
    await app_card.wait_for()
    assert "Quokka counter" in await app_card.inner_text()
    assert await app_card.locator("i").count() == 0  # the description is text
    failing = [v for v in await axe_violations(page) if v["impact"] in ("critical", "serious")]
    assert not failing, describe(failing)
    await page.fill('[data-testid="gallery-search"]', "quokka")
    card = page.locator(f'[data-testid="gallery-results"] [data-path="{path}"]')
    await card.locator('[data-testid="open-as-app"]').click()
    await page.wait_for_url(f"**/apps/{pid}")
    await page.get_by_role("heading", name="Quokka counter").wait_for()
    assert page.errors == []

    # Someone the app is not shared with sees the notebook, not the app.
    page = await open_page(browser, server, "/gallery", "bob-token")
    await page.locator('[data-testid="recent"]').wait_for()  # the sections are on the page
    assert await page.locator(f'[data-app="{pid}"]').count() == 0
    await page.fill('[data-testid="gallery-search"]', "quokka")
    card = page.locator(f'[data-testid="gallery-results"] [data-path="{path}"]')
    await card.locator('[data-testid="open"]').wait_for()
    assert await card.locator('[data-testid="open-as-app"]').count() == 0
    assert page.errors == []
