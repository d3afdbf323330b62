"""Opening an app to everyone signed in, without a command line, in real Chromium against local
accounts: Alice publishes from the editor's Publish dialog letting everyone signed in read it
and run it; Bob finds it in Discover and runs it. A copy opened to readers only shows them no
"Open as app", lists it under Published, and its publisher opens it as an app from its page
(a publisher who may not run code is told why not)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from axe import axe_violations, describe

from support.browser import needs_chromium, open_page
from support.notebooks import notebook_json
from support.server import ServerProcess

pytestmark = needs_chromium

PASSWORDS = {
    "root": "root-password-1",
    "alice": "alice-password-1",  # owns lab/ and may run code
    "nora": "nora-password-1",  # owns lab/ too, may not run code
    "bob": "bob-password-1",  # signed in, nothing granted
}
FLAGS = {"root": ["--admin"], "alice": ["--execute"]}
RESULT = "from IPython.display import JSON\nJSON({'total': n * 10})"


def app_notebook() -> dict[str, Any]:
    nb = notebook_json(("code", "n = 3  # how many"), ("code", RESULT))
    nb["cells"][0]["metadata"]["tags"] = ["parameters"]
    nb["cells"][1]["metadata"]["tags"] = ["result"]
    return nb


@pytest.fixture(scope="module")
def accounts(tmp_path_factory) -> Any:
    server = ServerProcess.with_accounts(
        tmp_path_factory.mktemp("appaudience"),
        PASSWORDS,
        FLAGS,
        ["--CollabServer.apps_pool_size=0"],
    )
    (server.root / "lab").mkdir()
    server.start()
    server.tokens = tokens = server.sign_in_all(PASSWORDS)  # type: ignore[attr-defined]
    for name in ("alice", "nora"):
        r = httpx.post(f"{server.http_url}/api/collab/shares/lab",
                       headers={"Authorization": f"token {tokens['root']}"},
                       json={"principal": f"user:{name}", "role": "owner"})  # fmt: skip
        assert r.status_code == 201, r.text
    yield server
    server.stop()


async def no_serious_violations(page: Any, what: str) -> None:
    failing = [v for v in await axe_violations(page) if v["impact"] in ("critical", "serious")]
    assert not failing, f"{what}:\n{describe(failing)}"


async def test_published_for_everyone_signed_in_to_run_found_and_run_by_another(browser, accounts):
    server = accounts
    (server.root / "lab" / "tally.ipynb").write_text(json.dumps(app_notebook()))
    alice = await open_page(browser, server, "/notebooks/lab/tally.ipynb", server.tokens["alice"])
    await alice.wait_for_selector(".cell .cm-content")
    await alice.click('[data-testid="more"]')
    await alice.click('[data-testid="publish-notebook"]')
    dialog = alice.locator('[data-testid="publish-dialog"]')
    await dialog.locator('[data-testid="publish-title"]').fill("Tally")
    await dialog.locator('[data-testid="publish-description"]').fill("Ten times n.\nMore here.")
    # It has code: who may run it is a choice of its own, and the dialog promises no more.
    note = await dialog.locator('[data-testid="publish-app-note"]').inner_text()
    assert "their own values" in note and "readers can also run" not in note
    assert await dialog.locator('[data-testid="runners-need-execute"]').count() == 0
    await dialog.locator('[data-testid="audience-signed-in"]').check()
    await dialog.locator('[data-testid="runners-signed-in"]').check()
    await no_serious_violations(alice, "publish dialog with who may run it")
    await dialog.locator('[data-testid="publish-submit"]').click()
    done = dialog.locator('[data-testid="publish-done"][data-state="applied"]')
    await done.wait_for()
    text = await done.inner_text()
    assert "Everyone signed in may read it." in text
    assert "Everyone signed in may run it as an app." in text
    assert await dialog.locator('[data-testid="publish-error"]').inner_text() == ""
    href = await dialog.locator('[data-testid="published-app-link"]').get_attribute("href")
    assert href is not None
    pid = href.rsplit("/", 1)[-1]
    assert alice.errors == []

    # Bob, signed in, finds it among the apps in Discover (once: not again under Published).
    bob = await open_page(browser, server, "/gallery", server.tokens["bob"])
    await bob.locator('[data-testid="gallery-sections"][data-state="ready"]').wait_for()
    card = bob.locator(f'[data-testid="apps"] [data-app="{pid}"]')
    assert "Tally" in await card.inner_text()
    assert "1 input" in await card.inner_text()
    assert await bob.locator(f'[data-testid="published"] [data-published="{pid}"]').count() == 0
    # He may read it too: the app's card leads there.
    read = card.locator('[data-testid="read-published"]')
    assert (await read.get_attribute("href") or "").endswith(f"/published/{pid}")
    await no_serious_violations(bob, "discover with an app opened to everyone signed in")
    await card.locator('[data-testid="open-as-app"]').click()
    await bob.wait_for_url(f"**/apps/{pid}")
    await bob.get_by_role("heading", name="Tally").wait_for()
    await bob.fill('[data-testid="param-n"]', "4")
    await bob.click('[data-testid="run-app"]')
    await bob.locator('[data-testid="run-status"]:has-text("Done")').wait_for(timeout=60_000)
    await bob.locator('[data-testid="result-table"] td:has-text("40")').wait_for()
    assert bob.errors == []


async def test_a_reader_sees_no_app_until_its_publisher_opens_it_from_its_page(browser, accounts):
    server = accounts
    (server.root / "lab" / "notes.ipynb").write_text(json.dumps(app_notebook()))
    headers = {"Authorization": f"token {server.tokens['alice']}"}
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers, timeout=30) as c:
        body = {"title": "Field notes", "description": "Read, not run."}
        r = await c.post("/api/collab/publish/lab/notes.ipynb", json=body)
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = await c.put(f"/api/collab/published/{pid}/audience", json={"audience": "signed-in"})
        assert r.status_code == 200, r.text

    # Bob may read it, not run it: Discover lists it under Published, without "Open as app".
    bob = await open_page(browser, server, "/gallery", server.tokens["bob"])
    await bob.locator('[data-testid="gallery-sections"][data-state="ready"]').wait_for()
    card = bob.locator(f'[data-testid="published"] [data-published="{pid}"]')
    assert "Field notes" in await card.inner_text()
    assert "Read, not run." in await card.inner_text()
    publisher = await card.locator('[data-testid="publisher"]').inner_text()
    assert "published by alice" in publisher.lower()
    assert await card.locator('[data-testid="open-as-app"]').count() == 0
    assert await bob.locator(f'[data-app="{pid}"]').count() == 0
    await card.locator('[data-testid="open-published"]').click()
    await bob.wait_for_url(f"**/published/{pid}")
    # Once the page has asked about the app (the barrier), there is no button to a dead end,
    # and no control a reader may not use.
    await bob.locator('[data-testid="published-page"][data-app="none"]').wait_for()
    assert await bob.locator('[data-testid="open-as-app"]').count() == 0
    assert await bob.locator('[data-testid="published-audience"]').count() == 0

    # Nora may share the notebook but not run code: she may not open it as an app, and is told.
    nora = await open_page(browser, server, f"/published/{pid}", server.tokens["nora"])
    run = nora.locator('[data-testid="run-audience"]')
    await nora.locator('[data-testid="run-audience"][data-saved="restricted"]').wait_for()
    await run.select_option("signed-in")
    error = nora.locator('[data-testid="audience-error"]')
    await error.filter(has_text="you may not run code in this notebook").wait_for()
    assert await run.input_value() == "restricted"

    # Alice sees both audiences and opens it as an app from the page.
    alice = await open_page(browser, server, f"/published/{pid}", server.tokens["alice"])
    await alice.locator('[data-testid="read-audience"][data-saved="signed-in"]').wait_for()
    await alice.locator('[data-testid="run-audience"][data-saved="restricted"]').wait_for()
    state = alice.locator('[data-testid="audience-state"]')
    assert await state.inner_text() == (
        "Everyone signed in may read it. Only the people you give access to may run it as an app."
    )
    await no_serious_violations(alice, "published page with its audiences")
    await alice.locator('[data-testid="run-audience"]').select_option("signed-in")
    await alice.locator('[data-testid="run-audience"][data-saved="signed-in"]').wait_for()
    assert "Everyone signed in may run it as an app." in await state.inner_text()
    assert await alice.locator('[data-testid="audience-error"]').inner_text() == ""

    # On a phone the choices fit the screen (nothing sticks out sideways).
    phone = await open_page(browser, server, f"/published/{pid}", server.tokens["alice"], 390)
    await phone.locator('[data-testid="run-audience"][data-saved="signed-in"]').wait_for()
    wide = await phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, wide

    # Now Bob has "Open as app", and it leads to an app he may run.
    await bob.reload()
    button = bob.locator('[data-testid="open-as-app"]')
    await button.click()
    await bob.wait_for_url(f"**/apps/{pid}")
    await bob.locator('[data-testid="run-app"]').wait_for()
    assert bob.errors == [] and alice.errors == [] and nora.errors == []
