"""The History panel in real Chromium: edit and save, the version with its author, a diff of two
versions with the changed text marked, restore (confirmed) reaching a second browser without a
reload, the Publish dialog, the published page and "Make a copy"; accessibility of each state
and the panel on a 390-pixel-wide phone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import nbformat
from axe import axe_violations, describe

from support.browser import SOURCES, needs_chromium, open_page
from support.notebooks import write_notebook

pytestmark = needs_chromium

API = "/api/collab/versions"
REPORT = Path("tests/artifacts/axe")


async def check_a11y(page: Any, what: str) -> None:
    found = await axe_violations(page)
    REPORT.mkdir(parents=True, exist_ok=True)
    (REPORT / f"{what.replace(' ', '-')}.txt").write_text(describe(found) + "\n")
    failing = [v for v in found if v["impact"] in ("critical", "serious")]
    assert not failing, f"{what}:\n{describe(failing)}"


async def versions(server: Any, path: str) -> list[dict[str, Any]]:
    async with server.client("alice-token") as c:
        r = await c.get(f"{API}/{path}")
    assert r.status_code == 200, r.text
    listed: list[dict[str, Any]] = r.json()["versions"]
    return listed


async def wait_versions(server: Any, path: str, kinds: list[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        listed = await versions(server, path)
        if [v["kind"] for v in listed] == kinds:
            return listed
        assert time.monotonic() < deadline, listed
        await asyncio.sleep(0.05)


async def sources_are(page: Any, expected: str) -> None:
    await page.wait_for_function(
        f"(expected) => ({SOURCES})() === expected", arg=expected, timeout=10_000
    )


async def test_history_diff_restore_publish_and_copy(browser, server):
    path = write_notebook(server.root, ["a = 1", "b = 2"], "hist/story.ipynb")
    alice = await open_page(browser, server, f"/notebooks/{path}", "alice-token")
    bob = await open_page(browser, server, f"/notebooks/{path}", "bob-token")
    for page in (alice, bob):
        await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
        await sources_are(page, "a = 1|b = 2")

    # Alice edits the first cell and saves (Ctrl+S): a save version, credited to her.
    await alice.click(".cell:nth-child(1) .cm-content")
    await alice.keyboard.press("End")
    await alice.keyboard.type(" + 10")
    await sources_are(bob, "a = 1 + 10|b = 2")
    await alice.keyboard.press("Control+s")
    listed = await wait_versions(server, path, ["save", "auto"])
    assert [a["id"] for a in listed[0]["authors"]] == ["alice"]

    await alice.click('[data-testid="history"]')
    panel = alice.locator('[data-testid="history-panel"]')
    rows = panel.locator('[data-testid="version"]')
    await rows.nth(1).wait_for()
    assert await rows.count() == 2
    saved = rows.nth(0)
    assert await saved.get_attribute("data-kind") == "save"
    avatar = saved.locator('[data-author="alice"]')
    await avatar.wait_for()
    assert await avatar.get_attribute("aria-label") == "Alice Editor"
    await check_a11y(alice, "history panel")

    # Compare the two versions: the first cell changed, " + 10" marked inside it.
    await rows.nth(0).locator('[data-testid="pick"]').check()
    await rows.nth(1).locator('[data-testid="pick"]').check()
    await panel.locator('[data-testid="compare"]').click()
    changed = panel.locator('[data-testid="diff-cell"][data-kind="changed"]')
    await changed.wait_for()
    assert await changed.count() == 1
    assert await changed.locator("ins mark").inner_text() == " + 10"
    assert await changed.locator("del").text_content() == "removed: a = 1"
    await check_a11y(alice, "history diff")

    # Restore the original (after a confirmation): Bob's page follows without a reload.
    await rows.nth(1).locator('[data-testid="restore"]').click()
    confirm = alice.locator('dialog[role="alertdialog"]')
    await confirm.locator('button:has-text("Restore")').click()
    await sources_are(bob, "a = 1|b = 2")
    await sources_are(alice, "a = 1|b = 2")
    await panel.locator('[data-testid="version"][data-kind="restore"]').wait_for()
    # The status says so when the restore's answer is in (the list's own refresh may show
    # the new version first).
    status = panel.locator('[data-testid="history-status"]')
    await status.filter(has_text="Restored").wait_for()

    # Alice may not publish (it needs "share"): she has no Publish button. Ada (an owner)
    # publishes, asking for every signed-in person to read it.
    assert await panel.locator('[data-testid="publish"]').count() == 0
    ada = await open_page(browser, server, f"/notebooks/{path}", "admin-token")
    await ada.click('[data-testid="history"]')
    await ada.locator('[data-testid="history-panel"] [data-testid="publish"]').click()
    dialog = ada.locator('[data-testid="publish-dialog"]')
    await dialog.locator('[data-testid="publish-title"]').fill("The story")
    await dialog.locator('[data-testid="publish-description"]').fill("Told in two cells.")
    assert await dialog.locator('[data-testid="publish-strip"]').is_checked()
    await dialog.locator('[data-testid="audience-signed-in"]').check()
    await check_a11y(ada, "publish dialog")
    await dialog.locator('[data-testid="publish-submit"]').click()
    link = dialog.locator('[data-testid="published-link"]')
    await link.wait_for()
    # Either the audience was granted, or the dialog says in a sentence why not (a provider
    # without audience grants): never a silent failure.
    await ada.wait_for_function(
        "() => /may read it/.test(document.querySelector('[data-testid=publish-done]')"
        "?.textContent) || /^Published, but/.test(document.querySelector("
        "'[data-testid=publish-error]')?.textContent)"
    )
    async with server.client("admin-token") as c:
        published = (await c.get("/api/collab/published")).json()["published"]
    assert "The story" in [p["title"] for p in published]

    # The published page, read-only, and "Make a copy" into a folder Alice may write.
    await link.click()
    await ada.wait_for_url("**/published/**")
    await ada.locator('[data-testid="published-title"]').wait_for()
    assert await ada.locator('[data-testid="published-title"]').inner_text() == "The story"
    assert await ada.locator(".published-cell pre").first.inner_text() == "a = 1"
    await check_a11y(ada, "published page")
    # "Open as app" leads to the app page of this published copy.
    app_href = await ada.locator('[data-testid="open-as-app"]').get_attribute("href")
    assert app_href is not None and app_href.endswith("/apps/" + ada.url.rsplit("/", 1)[-1])
    await ada.click('[data-testid="make-copy"]')
    await ada.locator('[data-testid="copy-target"]').fill("hist/")
    await ada.click('[data-testid="copy-target-submit"]')
    await ada.wait_for_url("**/notebooks/hist/The%20story.ipynb")
    await ada.wait_for_selector(".cell .cm-content")
    await sources_are(ada, "a = 1|b = 2")
    assert (server.root / "hist" / "The story.ipynb").exists()
    assert alice.errors == [] and bob.errors == [] and ada.errors == []


async def test_history_panel_fits_a_phone_and_hides_what_a_viewer_may_not_do(browser, server):
    path = write_notebook(server.root, ["x = 1"], "hist/phone.ipynb")
    async with server.client("alice-token") as c:
        r = await c.post(f"{API}/{path}", json={"label": "A named version"})
        assert r.status_code == 201, r.text
    page = await open_page(browser, server, f"/notebooks/{path}", "viewer-token", width=390)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await page.click('[data-testid="history"]')
    panel = page.locator('[data-testid="history-panel"]')
    row = panel.locator('[data-testid="version"]').first
    await row.wait_for()
    assert await row.locator('[data-testid="version-label"]').inner_text() == "A named version"
    # A viewer compares, but neither names, restores nor publishes.
    for control in ("restore", "name", "name-current", "publish"):
        assert await panel.locator(f'[data-testid="{control}"]').count() == 0
    await row.locator('[data-testid="pick"]').check()
    await panel.locator('[data-testid="compare"]').click()
    await panel.locator('[data-testid="no-changes"]').wait_for()
    overflow = await page.evaluate(
        "() => { const p = document.querySelector('[data-testid=history-panel]');"
        " return [p.scrollWidth, p.clientWidth, document.documentElement.clientWidth]; }"
    )
    assert overflow[0] <= overflow[1] <= 390, overflow
    await check_a11y(page, "history panel phone viewer")
    # A version cut while the panel is open appears at its top, the tick kept.
    async with server.client("alice-token") as c:
        r = await c.post(f"{API}/{path}", json={"label": "Made while open"})
        assert r.status_code == 201, r.text
    newest = panel.locator('[data-testid="version"]').first
    await (
        newest.locator('[data-testid="version-label"]')
        .filter(has_text="Made while open")
        .wait_for(timeout=20_000)
    )
    assert await row.locator('[data-testid="pick"]').is_checked() is False  # the new first row
    assert (
        await panel.locator('[data-testid="version"]')
        .nth(1)
        .locator('[data-testid="pick"]')
        .is_checked()
    )
    assert page.errors == []


async def test_a_publisher_withdraws_a_published_copy_from_its_page(browser, server):
    path = write_notebook(server.root, ["shared = 1"], "hist/withdraw.ipynb")
    async with server.client("admin-token") as c:
        r = await c.post(f"/api/collab/publish/{path}", json={"title": "To withdraw"})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
    # A reader of the copy who may not share its notebook gets no Withdraw button.
    async with server.client("alice-token") as c:
        answer = (await c.get(f"/api/collab/published/{pid}")).json()
    assert answer.get("may_withdraw") is False or "notebook" not in answer
    page = await open_page(browser, server, f"/published/{pid}", "admin-token")
    await page.locator('[data-testid="published-title"]').wait_for()
    await page.click('[data-testid="withdraw"]')
    confirm = page.locator('dialog[role="alertdialog"]')
    await check_a11y(page, "withdraw confirmation")
    await confirm.locator('button:has-text("Withdraw")').click()
    await page.locator('[data-testid="withdrawn"]').wait_for()
    async with server.client("admin-token") as c:
        assert (await c.get(f"/api/collab/published/{pid}")).status_code == 404
        assert (await c.get(f"{API}/{path}")).status_code == 200  # the notebook stays
    assert page.errors == []


async def test_publish_from_the_more_menu_says_a_parameters_cell_makes_an_app(browser, server):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n = 3"), nbformat.v4.new_code_cell("print(n)")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    (server.root / "hist").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "hist/menu.ipynb")
    path = "hist/menu.ipynb"
    # Alice may edit but not share: no "Publish…" in her menu (as in the History panel).
    alice = await open_page(browser, server, f"/notebooks/{path}", "alice-token")
    await alice.wait_for_selector(".cell .cm-content")
    await alice.click('[data-testid="more"]')
    await alice.wait_for_selector(".menu:not([hidden]) [data-testid='download-ipynb']")
    assert await alice.locator('[data-testid="publish-notebook"]').count() == 0
    # Ada may: the menu opens the Publish dialog, which says the notebook becomes an app too,
    # and names its narrowest audience in plain words.
    ada = await open_page(browser, server, f"/notebooks/{path}", "admin-token")
    await ada.wait_for_selector(".cell .cm-content")
    await ada.click('[data-testid="more"]')
    await ada.click('[data-testid="publish-notebook"]')
    dialog = ada.locator('[data-testid="publish-dialog"]')
    note = dialog.locator('[data-testid="publish-app-note"]')
    assert "“parameters” with their own values" in await note.inner_text()
    restricted = dialog.locator(
        "label.choice", has=ada.locator('[data-testid="audience-restricted"]')
    )
    assert "Only people you give access to it" in await restricted.inner_text()
    await check_a11y(ada, "publish dialog from the menu")
    await dialog.locator('[data-testid="publish-submit"]').click()
    await dialog.locator('[data-testid="published-link"]').wait_for()
    # Code without a parameters cell is an app without a form; the dialog says no more.
    other = write_notebook(server.root, ["x = 1"], "hist/plain.ipynb")
    await ada.goto(f"{server.http_url}/notebooks/{other}")
    await ada.wait_for_selector(".cell .cm-content")
    await ada.click('[data-testid="more"]')
    await ada.click('[data-testid="publish-notebook"]')
    note = ada.locator('[data-testid="publish-dialog"] [data-testid="publish-app-note"]')
    assert "parameters" not in await note.inner_text()
    # Without code it is no app: the dialog does not speak of apps.
    prose = nbformat.v4.new_notebook()
    prose.cells = [nbformat.v4.new_markdown_cell("# Only words")]
    nbformat.write(prose, server.root / "hist/prose.ipynb")
    await ada.goto(f"{server.http_url}/notebooks/hist/prose.ipynb")
    await ada.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await ada.wait_for_selector(".cell.markdown")
    await ada.click('[data-testid="more"]')
    await ada.click('[data-testid="publish-notebook"]')
    await ada.locator('[data-testid="publish-dialog"] [data-testid="publish-title"]').wait_for()
    assert await ada.locator('[data-testid="runners-choices"]').count() == 0
    assert await ada.locator('[data-testid="publish-app-note"]').count() == 0
    assert alice.errors == [] and ada.errors == []


async def test_a_copy_without_results_says_how_to_see_them(browser, server):
    async with server.client("admin-token") as c:
        made: dict[bool, str] = {}
        for strip in (True, False):
            path = write_notebook(server.root, ["print('hi')"], f"hist/stripped-{strip}.ipynb")
            body = {"title": f"Stripped {strip}", "strip_outputs": strip}
            r = await c.post(f"/api/collab/publish/{path}", json=body)
            assert r.status_code == 201, r.text
            made[strip] = r.json()["id"]
    page = await open_page(browser, server, f"/published/{made[True]}", "admin-token")
    note = page.locator('[data-testid="outputs-left-out"]')
    await note.wait_for()
    assert await note.inner_text() == (
        "Results were left out of this copy; make a copy and run it to see them."
    )
    await check_a11y(page, "published copy without results")
    await page.goto(f"{server.http_url}/published/{made[False]}")
    await page.locator('[data-testid="published-title"]:has-text("Stripped False")').wait_for()
    assert await note.count() == 0
    assert page.errors == []
