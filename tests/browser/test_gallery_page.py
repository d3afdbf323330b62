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


async def put_notebook(server: Any, path: str, markdown: str, parameters: str = "") -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell("x = 1")]
    if parameters:  # a cell tagged "parameters": the app's inputs
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
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
    # Its owner by name, not by persistent id (the id in the tooltip).
    owner = card.locator('[data-testid="owner"]')
    assert await owner.inner_text() == "Alice Editor"
    assert (await owner.get_attribute("title") or "").startswith("alice")
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

    # The owner's name finds their notebooks, by id (two people may share a name). The click
    # says "Searching…" at once; the next status is the owner search's answer.
    await owner.click()
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=gallery-search]').value === 'owner:alice'"
        " && !document.querySelector('[data-testid=gallery-status]').textContent"
        ".includes('Searching')"
    )
    async with server.client("bob-token") as c:
        total = (await c.get("/api/collab/search", params={"q": "owner:alice"})).json()["total"]
    assert await page.get_by_test_id("gallery-status").inner_text() == f"{total} notebooks found"
    owners = await results.locator('[data-testid="owner"]').evaluate_all(
        "els => els.map(e => e.textContent)"
    )
    assert owners and set(owners) == {"Alice Editor"}
    assert await card.count() == 1

    # Nothing is known of its health yet: no badge says so.
    assert await card.locator('[data-testid="health"]').count() == 0

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
    await put_notebook(server, path, "# Quokka counts\nHow many quokkas smile.",
                       parameters="smiles = 3\nisland = 'Rottnest'")  # fmt: skip
    plain = "galapp/quoll.ipynb"  # code, but nothing to fill in
    await put_notebook(server, plain, "# Quokka neighbours\nQuolls near the quokkas.")
    await wait_indexed(server, "quokka", 2)
    async with server.client("admin-token") as c:
        r = await c.post(
            f"/api/collab/publish/{path}",
            json={"title": "Quokka counter", "description": "Counts <i>quokkas</i>"},
        )
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = await c.post(f"/api/collab/publish/{plain}", json={"title": "Quoll list"})
        assert r.status_code == 201, r.text
        plain_pid = r.json()["id"]

    # A publisher who may run code: the app with inputs is among the Apps (saying how many),
    # the one without is not; both notebooks' cards offer "Open as app" as their main button.
    page = await open_page(browser, server, "/gallery", "admin-token")
    app_card = page.locator(f'[data-testid="apps"] [data-app="{pid}"]')
    await app_card.wait_for()
    assert "Quokka counter" in await app_card.inner_text()
    assert "2 inputs" in await app_card.inner_text()
    assert await app_card.locator("i").count() == 0  # the description is text
    assert await page.locator(f'[data-app="{plain_pid}"]').count() == 0
    blurb = await page.locator('[data-testid="apps"] p').first.inner_text()
    assert "your own values" in blurb and "never see" not in blurb
    failing = [v for v in await axe_violations(page) if v["impact"] in ("critical", "serious")]
    assert not failing, describe(failing)
    await page.fill('[data-testid="gallery-search"]', "quokka")
    for notebook in (plain, path):
        card = page.locator(f'[data-testid="gallery-results"] [data-path="{notebook}"]')
        main_button = card.locator('[data-testid="open-as-app"]')
        await main_button.wait_for()
        assert "quiet" not in (await main_button.get_attribute("class") or "")
        other = card.locator('[data-testid="open"]')
        assert await other.inner_text() == "Open notebook"
        assert "quiet" in (await other.get_attribute("class") or "")
    await card.locator('[data-testid="open-as-app"]').click()
    await page.wait_for_url(f"**/apps/{pid}")
    await page.get_by_role("heading", name="Quokka counter").wait_for()
    assert page.errors == []

    # Someone the app is not shared with sees the notebook, not the app.
    page = await open_page(browser, server, "/gallery", "bob-token")
    await page.locator('[data-testid="gallery-sections"][data-state="ready"]').wait_for()
    assert await page.locator(f'[data-app="{pid}"]').count() == 0
    await page.fill('[data-testid="gallery-search"]', "quokka")
    card = page.locator(f'[data-testid="gallery-results"] [data-path="{path}"]')
    await card.locator('[data-testid="open"]').wait_for()
    assert await card.locator('[data-testid="open-as-app"]').count() == 0
    assert await card.locator('[data-testid="open"]').inner_text() == "Open"
    assert page.errors == []


async def test_a_health_badge_only_when_there_is_something_to_say(browser, server):
    path = "galhealth/kea.ipynb"
    await put_notebook(server, path, "# Kea sightings\nKea in the alps.")
    await wait_indexed(server, "kea", 1)
    async with server.client("alice-token") as c:
        nb = (await c.get(f"/api/contents/{path}")).json()["content"]
    from collab_server.gallery.extract import source_hash

    now = time.time()
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    runs = [{"cell_id": cell["id"], "cell_index": i, "source_hash": source_hash(cell["source"]),
             "ok": True, "person": person, "session": f"{person}-s", "at": now - 60}
            for person in ("p1", "p2", "p3") for i, cell in enumerate(code)]  # fmt: skip
    async with server.client("admin-token") as c:
        r = await c.post(f"/api/collab/notebooks/{path}/executions", json={"executions": runs})
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 15
        while True:  # the stored score (debounced) reaches search results
            found = (await c.get("/api/collab/search", params={"q": "kea"})).json()["results"]
            if found and found[0]["health"] is not None:
                break
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.1)

    page = await open_page(browser, server, "/gallery", "bob-token")
    await page.fill('[data-testid="gallery-search"]', "kea")
    card = page.locator(f'[data-testid="gallery-results"] [data-path="{path}"]')
    badge = card.locator('[data-testid="health"]')
    await badge.wait_for()
    assert (await badge.inner_text()).startswith("Healthy")
    await badge.focus()  # it explains itself
    await card.locator('[role="tooltip"]:has-text("3 people")').wait_for()
    assert page.errors == []


async def test_each_notebook_once_tags_under_the_search_box_on_a_phone(browser, server):
    for i in range(3):
        await put_notebook(server, f"galonce/emu{i}.ipynb", f"# Emu {i}\nEmus running.")
    await wait_indexed(server, "emus", 3)
    async with server.client("alice-token") as c:
        r = await c.put("/api/collab/tags/galonce/emu0.ipynb", json={"tag": "birds"})
        assert r.status_code == 200, r.text
        await c.put("/api/collab/stars/galonce/emu0.ipynb")  # starred and recent
        for i in range(3):
            await c.post(f"/api/collab/notebooks/galonce/emu{i}.ipynb/views")

    context = await browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True,
                                        is_mobile=True)  # fmt: skip
    page = await context.new_page()
    await page.goto(f"{server.http_url}/gallery?token=alice-token")
    await page.locator('[data-testid="gallery"][data-state="ready"]').wait_for()
    search = page.locator('[data-testid="gallery-search"]')
    assert await search.get_attribute("placeholder") == "Search notebooks"
    help_text = await page.locator('[data-testid="search-help"]').inner_text()
    assert "tag:NAME" in help_text and "owner:NAME" in help_text
    # A touch screen: the keyboard does not pop up over the page on arrival.
    assert not await page.evaluate(
        "() => document.activeElement?.dataset?.testid === 'gallery-search'"
    )
    # The tags come right under the search box, before the sections.
    chip = page.locator('.tag-cloud .tag:has-text("birds")')
    await chip.wait_for()
    chip_box = await chip.bounding_box()
    search_box = await search.bounding_box()
    sections_box = await page.locator('[data-testid="gallery-sections"]').bounding_box()
    assert chip_box and search_box and sections_box
    assert search_box["y"] < chip_box["y"] < sections_box["y"], (search_box, chip_box, sections_box)
    # Every notebook is on the page once, in the first section that lists it.
    paths = await page.eval_on_selector_all(
        '[data-testid="gallery-sections"] [data-testid="gallery-card"]',
        "cards => cards.map((c) => c.dataset.path)")  # fmt: skip
    assert "galonce/emu0.ipynb" in paths
    assert len(paths) == len(set(paths)), paths
    wide = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0
    failing = [v for v in await axe_violations(page) if v["impact"] in ("critical", "serious")]
    assert not failing, describe(failing)
    await context.close()

    # On a desktop the search box has the focus, ready to type.
    page = await open_page(browser, server, "/gallery", "alice-token")
    await page.locator('[data-testid="gallery"][data-state="ready"]').wait_for()
    assert await page.evaluate("() => document.activeElement?.dataset?.testid === 'gallery-search'")
