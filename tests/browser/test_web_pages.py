"""The web page's pages, in real Chromium: not-found pages with a way home, renaming from the
editor, comment labels, HTML outputs sized to their content, SVG icons with names, a big
notebook that shows its first cell at once, and the notebook browser."""

from __future__ import annotations

import time
from typing import Any

import nbformat

from conftest import write_notebook
from support.browser import needs_chromium, open_page

pytestmark = needs_chromium


async def open_notebook(browser: Any, server: Any, path: str, token: str, **kw: Any) -> Any:
    page = await open_page(browser, server, f"/notebooks/{path}", token, **kw)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    # A cell is drawn (toolbar and editor) when it scrolls into view; until then it is an
    # empty placeholder (``.cell.pending``): wait for a drawn one.
    await page.wait_for_selector(".cell:not(.pending)")
    return page


def big_notebook(root: Any, name: str, cells: int = 240, lines: int = 2000) -> int:
    """About 24 MB: ``cells`` code cells, each with ``lines`` lines of output."""
    nb = nbformat.v4.new_notebook()
    out = "".join(
        f"line {i:07d} of a long, long output that nobody reads in full\n" for i in range(lines)
    )
    nb.cells = [
        nbformat.v4.new_code_cell(f"for i in range({lines}):\n    print(i)  # cell {n}", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text=out)])
        for n in range(cells)
    ]  # fmt: skip
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path.stat().st_size


async def test_a_big_notebook_shows_its_first_cell_at_once(browser, server):
    size = big_notebook(server.root, "big/huge.ipynb")
    assert size > 20_000_000
    # Loading the file into a room is the server's part (not measured): someone already has it
    # open, so the room is loaded; what is measured is the page, from its address to a cell.
    await open_notebook(browser, server, "big/huge.ipynb", "bob-token")
    page = await open_page(browser, server, "/", "alice-token")
    started = time.monotonic()
    await page.goto(f"{server.http_url}/notebooks/big/huge.ipynb")
    await page.wait_for_selector(".cell .cm-content:has-text('cell 0')", timeout=30_000)
    elapsed = time.monotonic() - started
    # Most of ``elapsed`` is the server encoding and sending 30 MB; the page's own part, from
    # the document's arrival to its first cell drawn, must be well under a second.
    await page.wait_for_function("() => performance.getEntriesByName('collab:first-cell').length")
    drawing = await page.evaluate(
        "() => performance.getEntriesByName('collab:first-cell')[0].startTime"
        " - performance.getEntriesByName('collab:synced')[0].startTime"
    )
    assert drawing < 1000, f"first cell {drawing:.0f} ms after the document arrived"
    assert elapsed < 20, f"first cell after {elapsed:.1f} s"
    # The long output is collapsed, with a way to see it all.
    first = page.locator(".cell").first
    await first.locator("button:has-text('Show all')").wait_for()
    assert await page.locator(".cell:not(.pending)").count() < 60  # the rest wait their turn
    await page.screenshot(path="tests/artifacts/big-notebook.png")


async def test_unknown_addresses_show_a_not_found_page_with_a_way_home(browser, server):
    page = await open_page(browser, server, "/notebooks/nowhere/missing.ipynb", "alice-token")
    await page.wait_for_selector('[data-testid="not-found"]:has-text("does not exist")')
    assert "Not Found" not in await page.inner_text("body")
    await page.click("text=Go to your notebooks")
    await page.wait_for_selector(".entries")
    await page.goto(f"{server.http_url}/notebooks/")
    await page.wait_for_selector('[data-testid="not-found"]')
    await page.screenshot(path="tests/artifacts/not-found.png")


async def test_rename_from_the_editor_follows_the_file(browser, server):
    path = write_notebook(server.root, ["keep me"], "web/rename-me.ipynb")
    page = await open_notebook(browser, server, path, "alice-token")
    await page.click('button[title="Rename this notebook"]')
    await page.fill(".title-input", "renamed")
    await page.press(".title-input", "Enter")
    await page.wait_for_selector('[data-testid="title"]:has-text("renamed.ipynb")')
    await page.wait_for_function("() => location.pathname.endsWith('/notebooks/web/renamed.ipynb')")
    assert (server.root / "web/renamed.ipynb").exists()
    assert not (server.root / path).exists()
    await page.goto(f"{server.http_url}/notebooks/{path}")  # the old address
    await page.wait_for_selector('[data-testid="not-found"]')


async def test_a_comment_on_selected_text_shows_its_quote_not_the_notebook(browser, server):
    path = write_notebook(server.root, ["keep drop keep"], "web/quoted.ipynb")
    cell = nbformat.read(server.root / path, as_version=4).cells[0].id
    async with server.client("commenter-token") as c:
        target = {"type": "text", "cellId": cell, "start": 5, "end": 9}
        r = await c.post(f"/api/collab/comments/{path}", json={"target": target, "body": "why?"})
        assert r.status_code == 201
    page = await open_notebook(browser, server, path, "alice-token")
    # The thread names its cell once both the comments and the cells are in ("a cell" before).
    thread = page.locator(".thread")
    await thread.locator('.where:text-is("On text in cell 1")').wait_for()
    assert await thread.locator(".quote").inner_text() == "drop"


async def test_html_outputs_take_their_height_in_a_sandbox(browser, server):
    nb = nbformat.v4.new_notebook()
    tall = "<div id='tall' style='height: 600px; background: #eef'>tall</div>"
    huge = "<div style='height: 100000px'>huge</div>"
    nb.cells = [nbformat.v4.new_code_cell("show()", outputs=[
        nbformat.v4.new_output("display_data", data={"text/html": tall}),
        nbformat.v4.new_output("display_data", data={"text/html": huge}),
    ])]  # fmt: skip
    (server.root / "web").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "web/tall.ipynb")
    page = await open_notebook(browser, server, "web/tall.ipynb", "alice-token")
    frames = page.locator("iframe.output.html")
    await page.wait_for_function(
        "() => document.querySelectorAll('iframe.output.html')[0]?.offsetHeight > 590"
    )
    await page.wait_for_function(
        "() => document.querySelectorAll('iframe.output.html')[1]?.offsetHeight >= 4000"
    )
    assert await frames.nth(1).evaluate("f => f.offsetHeight") <= 4002  # clamped
    for i in range(2):
        assert await frames.nth(i).get_attribute("sandbox") == "allow-scripts"
    # Only the frame itself may size it: a message from anywhere else changes nothing.
    before = await frames.nth(0).evaluate("f => f.offsetHeight")
    await page.evaluate("""() => new Promise((done) => {
        window.postMessage({ collabOutputHeight: 30 }, "*");
        window.addEventListener("message", (e) => { if (e.data === "marker") done(); });
        window.postMessage("marker", "*");
    })""")
    assert await frames.nth(0).evaluate("f => f.offsetHeight") == before
    inner = await (await frames.nth(0).element_handle()).content_frame()
    assert (
        await inner.evaluate(
            "() => { try { return parent.document.title } catch (e) { return 'blocked' } }"
        )
        == "blocked"
    )
    await page.screenshot(path="tests/artifacts/html-output.png")


async def test_icons_are_svg_with_names(browser, server):
    path = write_notebook(server.root, ["x"], "icons/one.ipynb")
    page = await open_notebook(browser, server, path, "alice-token")
    buttons = await page.query_selector_all(".cell-toolbar button")
    assert len(buttons) == 7  # a writer without `execute`: no Run button, but Clear outputs
    for button in buttons:
        assert await button.query_selector("svg")
        if await button.evaluate("b => b.classList.contains('comment-button')"):
            # Named by its content: the open threads it counts (none here), then what it does
            # (for screen readers).
            assert await button.inner_text() == "Comment on the selected text, or on the cell"
            assert await button.eval_on_selector(".comment-count", "n => n.textContent") == ""
            continue
        assert await button.get_attribute("aria-label")
        assert not (await button.inner_text()).strip()  # no emoji glyph
    await page.goto(f"{server.http_url}/?path=icons")
    await page.wait_for_selector(".entry.notebook svg.icon")
    await page.screenshot(path="tests/artifacts/browser-icons.png")


# Each page but the editor has the same top bar: (address, token, ready, the link marked as
# the current page).
TOP_BAR_PAGES = [
    ("/", "alice-token", ".entries", "your-notebooks"),
    ("/gallery", "alice-token", '[data-testid="gallery-sections"][data-state="ready"]', "discover"),
    ("/settings", "alice-token", '[data-testid="settings"][data-state="ready"]', None),
    ("/admin", "admin-token", '[data-testid="admin-unsupported"]', None),
    ("/published/no-such-copy", "alice-token", 'h1:has-text("No such published notebook")', None),
    ("/apps/no-such-app", "alice-token", '[data-testid="not-found"]', None),
]

WIDER = "() => document.documentElement.scrollWidth - window.innerWidth"

# The vertical centres of the top bar's visible parts: one row means they are all alike.
ROW = """() => [...document.querySelector('header.topbar').querySelectorAll(
  '.brand, .page-name, .topbar-link, [data-testid="user-menu"]')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => { const r = e.getBoundingClientRect(); return r.top + r.height / 2; })"""


async def test_every_page_but_the_editor_has_the_same_top_bar(browser, server):
    from axe import axe_violations, describe

    write_notebook(server.root, ["x = 1"], "topbar/app.ipynb")
    async with server.client("admin-token") as c:
        r = await c.post("/api/collab/publish/topbar/app.ipynb", json={"title": "Bar app"})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
    pages = [
        *TOP_BAR_PAGES,
        (f"/published/{pid}", "admin-token", '[data-testid="published-title"]', None),
        (f"/apps/{pid}", "admin-token", 'h1:has-text("Bar app")', None),
    ]
    for width in (1280, 390):
        for url, token, ready, current in pages:
            page = await open_page(browser, server, url, token, width=width)
            await page.goto(f"{server.http_url}{url}")  # without ?token= in the address
            await page.wait_for_selector(ready)
            bar = page.locator("header.topbar")
            assert await bar.count() == 1, url
            await bar.locator('[data-testid="user-menu"]').wait_for()
            for link in ("your-notebooks", "discover"):
                found = bar.locator(f'[data-testid="{link}"]')
                # Named for screen readers even where only the icon shows.
                name = "Your notebooks" if link == "your-notebooks" else "Discover"
                assert await found.inner_text() == name or width == 390, (url, link)
                named = page.get_by_role("link", name=name, exact=True)
                assert await named.count() == 1, (url, name)
                marked = await found.get_attribute("aria-current")
                assert marked == ("page" if link == current else None), (url, link, marked)
            centres = await page.evaluate(ROW)
            assert len(centres) >= 4 and max(centres) - min(centres) < 4, (url, width, centres)
            wide = await page.evaluate(WIDER)
            assert wide <= 0, (url, width, wide)
            violations = await axe_violations(page)
            failing = [v for v in violations if v["impact"] in ("critical", "serious")]
            assert not failing, f"{url} at {width}px:\n{describe(failing)}"
            assert page.errors == [], url
            await page.context.close()


async def test_settings_without_personal_tokens_shows_no_tokens_card(browser, server):
    # This server's sign-in system issues no personal tokens (test_web_files.py checks the
    # card with local accounts, which do).
    page = await open_page(browser, server, "/settings", "alice-token")
    await page.wait_for_selector('[data-testid="settings"][data-state="ready"]')
    assert await page.locator('[data-testid="tokens"]').count() == 0
    assert "API token" not in await page.inner_text("main")
    await page.click('[data-testid="user-menu"]')
    assert await page.locator('[data-testid="menu-settings"]').inner_text() == "Settings"
    assert page.errors == []
