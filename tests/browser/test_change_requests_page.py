"""Change requests in real Chromium: a reader sees "Suggest changes"; a writer sees
"Change requests (1)", reviews the suggested change as a line diff (text stays text) and
accepts it: the open notebook shows the change at once."""

from __future__ import annotations

import asyncio
import copy
import time

from support.browser import SOURCES, needs_chromium, open_page
from support.notebooks import notebook_json

pytestmark = needs_chromium


async def test_review_and_accept_a_change_request(browser, server):
    path = "crpage/target.ipynb"
    (server.root / "crpage").mkdir(exist_ok=True)
    nb = notebook_json(("code", "x = 1"), ("code", "y = 2"))
    async with server.client("alice-token") as c:
        r = await c.put(f"/api/contents/{path}",
                        json={"type": "notebook", "format": "json", "content": nb})  # fmt: skip
        assert r.status_code in (200, 201), r.text
    draft = copy.deepcopy(nb)
    draft["cells"][0]["source"] = "x = 10  # <b onmouseover=alert(1)>ten</b>"
    async with server.client("viewer-token") as c:
        r = await c.post(f"/api/collab/notebooks/{path}/change-requests",
                         json={"message": "Use <i>ten</i>", "notebook": draft})  # fmt: skip
        assert r.status_code == 201, r.text

    reader = await open_page(browser, server, f"/notebooks/{path}", "viewer-token")
    await reader.locator('[data-testid="cr-make-copy"]').wait_for()
    assert await reader.locator('[data-testid="cr-open"]').count() == 0
    await reader.context.close()

    page = await open_page(browser, server, f"/notebooks/{path}", "bob-token")
    await page.wait_for_selector(".cell")
    opener = page.locator('[data-testid="cr-open"]')
    await opener.wait_for()
    assert "Change requests (1)" in await opener.inner_text()
    await opener.click()
    request = page.locator('[data-testid="change-request"]')
    await request.wait_for()
    assert "Use <i>ten</i>" in await request.inner_text()  # shown as text
    # The version history's diff view: the changed cell, its removed and added lines.
    changed = request.locator('[data-testid="diff-cell"][data-kind="changed"]')
    await changed.wait_for()
    assert "x = 10" in await changed.locator("ins").first.inner_text()
    assert "x = 1" in await changed.locator("del").first.inner_text()
    assert "1 unchanged cell" in await request.inner_text()
    assert await page.locator("dialog b, dialog i").count() == 0

    await request.locator('[data-testid="cr-accept"]').click()
    await page.locator('[data-testid="cr-empty"]').wait_for()
    await page.wait_for_function(f"() => ({SOURCES})().startsWith('x = 10')")
    await page.keyboard.press("Escape")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=cr-open]').hidden === true"
    )
    async with server.client("viewer-token") as c:
        mine = (await c.get(f"/api/collab/notebooks/{path}/change-requests",
                            params={"status": "all"})).json()["change_requests"]  # fmt: skip
    assert [(r["status"], r["decided_by"]["id"]) for r in mine] == [("accepted", "bob")]
    assert page.errors == []


async def test_suggest_the_changes_of_a_copy_to_its_source(browser, server):
    source = "crcopy/source.ipynb"
    (server.root / "crcopy").mkdir(exist_ok=True)
    nb = notebook_json(("code", "a = 1"))
    async with server.client("alice-token") as c:
        r = await c.put(f"/api/contents/{source}",
                        json={"type": "notebook", "format": "json", "content": nb})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        clone = {"source": {"path": source}, "target": "crcopy/mine.ipynb"}
        r = await c.post("/api/collab/clone", json=clone)
        assert r.status_code == 201, r.text
        changed = copy.deepcopy(nb)
        changed["cells"][0]["source"] = "a = 2"
        model = {"type": "notebook", "format": "json", "content": changed}
        r = await c.put("/api/contents/crcopy/mine.ipynb", json=model)
        assert r.status_code == 200, r.text

        # The page learns the copy's source from the gallery: once it indexed the copy.
        deadline = time.monotonic() + 15
        while (await c.get("/api/collab/notebooks/crcopy/mine.ipynb/info")).status_code != 200:
            assert time.monotonic() < deadline, "the copy was not indexed"
            await asyncio.sleep(0.05)

    page = await open_page(browser, server, "/notebooks/crcopy/mine.ipynb", "alice-token")
    suggest = page.locator('[data-testid="cr-suggest"]')
    await suggest.wait_for()
    assert "Suggest to source.ipynb" in await suggest.inner_text()
    await suggest.click()
    await page.fill("dialog input", "Two is better")
    await page.click('dialog button[type="submit"]')
    await page.locator('[data-testid="cr-sent"]').wait_for()
    async with server.client("bob-token") as c:
        found = (await c.get(f"/api/collab/notebooks/{source}/change-requests")).json()
    assert [(r["message"], r["source"], r["proposer"]["id"]) for r in found["change_requests"]] \
        == [("Two is better", "copy", "alice")]  # fmt: skip
    assert page.errors == []
