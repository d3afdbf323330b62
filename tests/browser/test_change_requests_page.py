"""Change requests in real Chromium: a reader sees "Suggest changes"; a writer sees
"Change requests (1)", reviews the suggested change as a line diff (text stays text) and
accepts it: the open notebook shows the change at once."""

from __future__ import annotations

import copy

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
    added = request.locator(".diff-line.added")
    await added.first.wait_for()
    assert "x = 10" in await added.first.inner_text()
    assert "x = 1" in await request.locator(".diff-line.removed").first.inner_text()
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
