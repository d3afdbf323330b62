"""The administration page (/admin) in real Chromium against local accounts: reached from the
user menu by administrators only; create a user (and get their one-time link), reset a
password, disable, make an administrator, make a group and add members, look up who has
access to a path and what a person was granted, see a person's tokens and revoke one;
axe-core finds nothing serious, open dialogs included; at a phone's width nothing sticks out
sideways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from axe import axe_violations, describe

from support.browser import needs_chromium, open_page
from support.notebooks import write_notebook
from support.server import ServerProcess

pytestmark = needs_chromium

PASSWORDS = {"root": "root-password-1", "olga": "olga-password-1", "pete": "pete-password-1"}
SCREENS = Path("tests/artifacts/screens")


@pytest.fixture(scope="module")
def accounts(tmp_path_factory) -> Any:
    server = ServerProcess(tmp_path_factory.mktemp("adminpage"), provider=None, ready_token=None)
    for name, flags in (("root", ["--admin"]), ("olga", []), ("pete", [])):
        made = server.create_user(name, PASSWORDS[name], *flags)
        assert made.returncode == 0, made.stderr
    write_notebook(server.root, ["the budget"], "finance/budget.ipynb")
    server.start()
    server.tokens = server.sign_in_all(PASSWORDS)  # type: ignore[attr-defined]
    yield server
    server.stop()


async def no_serious_violations(page: Any, what: str) -> None:
    found = await axe_violations(page)
    failing = [v for v in found if v["impact"] in ("critical", "serious")]
    assert not failing, f"{what}:\n{describe(failing)}"


async def confirm(page: Any, answer: str) -> None:
    dialog = page.locator('dialog[role="alertdialog"][open]')
    await dialog.get_by_role("button", name=answer).click()
    await dialog.wait_for(state="detached")


async def test_an_administrator_manages_users_groups_and_access(browser, accounts):
    server = accounts
    page = await open_page(browser, server, "/", server.tokens["root"])
    await page.wait_for_selector(".entries")
    await page.click('[data-testid="user-menu"]')
    await page.click('[data-testid="menu-admin"]')
    await page.wait_for_url("**/admin")
    users = page.locator('[data-testid="users"]')
    await users.locator('tr[data-user="olga"]').wait_for()
    await no_serious_violations(page, "admin page")

    # Create a user without a password: the page shows their one-time link.
    await page.click('[data-testid="new-user"]')
    dialog = page.locator('[data-testid="new-user-dialog"]')
    await dialog.get_by_label("User name").fill("Ben")
    await dialog.get_by_label("Full name (optional)").fill("Ben Brown")
    await no_serious_violations(page, "new user dialog")
    await dialog.locator('[data-testid="nu-create"]').click()
    ben = users.locator('tr[data-user="ben"]')
    await ben.wait_for()
    assert "Ben Brown (ben)" in await ben.inner_text()
    assert "No password yet" in await ben.inner_text()
    link = await page.locator('[data-testid="link-value"]').input_value()
    assert "?token=cs1_" in link and link.startswith(server.http_url)
    # A bad name is refused in the dialog, with the server's reason.
    await page.click('[data-testid="new-user"]')
    await dialog.get_by_label("User name").fill("no spaces please")
    await dialog.locator('[data-testid="nu-create"]').click()
    await dialog.locator('[role="alert"]:has-text("lower-case")').wait_for()
    await dialog.get_by_role("button", name="Cancel").click()

    # Reset olga's password: a new link is shown, her old password stops working.
    olga = users.locator('tr[data-user="olga"]')
    await olga.locator('[data-testid="reset-password"]').click()
    await no_serious_violations(page, "confirm dialog")
    await confirm(page, "Reset password")
    await page.locator('[data-testid="sign-in-link"]:has-text("olga")').wait_for()
    await olga.locator('text="No password yet"').wait_for()
    reset_link = await page.locator('[data-testid="link-value"]').input_value()
    assert reset_link != link and "?token=cs1_" in reset_link
    refused = httpx.post(f"{server.http_url}/api/collab/login",
                         json={"username": "olga", "password": PASSWORDS["olga"]})  # fmt: skip
    assert refused.status_code == 401

    # Make a group by adding its first member, then add another.
    await page.get_by_label("New group name", exact=True).fill("finance")
    await page.select_option('[data-testid="new-group-member"]', "ben")
    await page.get_by_role("button", name="Create group").click()
    group = page.locator('[data-group="finance"]')
    await group.locator('[data-member="ben"]').wait_for()
    await group.locator('[data-testid="add-member-user"]').select_option("pete")
    await group.locator('[data-testid="add-member"]').click()
    await group.locator('[data-member="pete"]').wait_for()
    await ben.locator('text="finance"').wait_for()
    # Remove pete again.
    await group.get_by_role("button", name="Remove pete from finance").click()
    await group.locator('[data-member="pete"]').wait_for(state="detached")

    # Disable and enable ben; make pete an administrator.
    await ben.locator('[data-testid="toggle-disabled"]').click()
    await confirm(page, "Disable")
    await ben.locator('.badge:has-text("Disabled")').wait_for()
    await ben.get_by_role("button", name="Enable ben").click()
    await ben.locator('.badge:has-text("Disabled")').wait_for(state="detached")
    # Let ben run code.
    await ben.get_by_role("button", name="Allow running code: ben").click()
    await confirm(page, "Allow running code")
    await ben.locator('text="User, may run code"').wait_for()
    pete = users.locator('tr[data-user="pete"]')
    await pete.locator('[data-testid="toggle-admin"]').click()
    await confirm(page, "Make administrator")
    await pete.locator('.badge:has-text("Administrator")').wait_for()

    # Search.
    await page.fill('[data-testid="user-search"]', "finance")
    await users.locator('tr[data-user="olga"]').wait_for(state="detached")
    assert await users.locator("tbody tr").count() == 1
    await page.fill('[data-testid="user-search"]', "")

    # Who has access: the group reaches ben through a grant on the folder above.
    async with httpx.AsyncClient(
        base_url=server.http_url, headers={"Authorization": f"token {server.tokens['root']}"}
    ) as c:
        r = await c.post("/api/collab/shares/finance",
                         json={"principal": "group:finance", "role": "editor"})  # fmt: skip
        assert r.status_code == 201, r.text
    await page.get_by_label("File or folder", exact=True).fill("finance/budget.ipynb")
    await page.get_by_role("button", name="Who has access?").click()
    row = page.locator('[data-testid="access-people"] tr[data-person="ben"]')
    await row.wait_for()
    assert "editor" in await row.inner_text() and "group finance" in await row.inner_text()
    assert "from a folder above" in await page.locator('[data-testid="access-grants"]').inner_text()
    await page.get_by_label("Person", exact=True).select_option("ben")
    await page.get_by_role("button", name="What were they granted?").click()
    grants = page.locator('[data-testid="user-grants"]')
    await grants.wait_for()
    assert "editor on finance" in await grants.inner_text()
    await page.get_by_label("File or folder", exact=True).fill("no/such/folder")
    await page.get_by_role("button", name="Who has access?").click()
    await page.locator('[data-testid="access-result"] [role="alert"]').wait_for()
    await no_serious_violations(page, "admin page with results")
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.screenshot(path=str(SCREENS / "admin-1280.png"), full_page=True)
    assert page.errors == []
    await page.context.close()


async def test_an_administrator_revokes_a_persons_token(browser, accounts):
    server = accounts
    root = {"Authorization": f"token {server.tokens['root']}"}
    async with httpx.AsyncClient(base_url=server.http_url) as c:
        r = await c.post("/api/collab/admin/users", headers=root,
                         json={"name": "tess", "password": "tess-password-1"})  # fmt: skip
        assert r.status_code == 201, r.text
        r = await c.post("/api/collab/login",
                         json={"username": "tess", "password": "tess-password-1"})  # fmt: skip
        session = {"Authorization": f"token {r.json()['token']}"}
        r = await c.post("/api/collab/tokens", headers=session, json={"label": "nightly job"})
        assert r.status_code == 201, r.text
        api_token = {"Authorization": f"token {r.json()['token']}"}

    page = await open_page(browser, server, "/admin", server.tokens["root"])
    tess = page.locator('[data-testid="users"] tr[data-user="tess"]')
    await tess.get_by_role("button", name="Tokens of tess").click()
    dialog = page.get_by_role("dialog", name="Tokens of tess")
    rows = dialog.locator("tbody tr")
    await rows.first.wait_for()
    assert await rows.count() == 2
    text = await dialog.inner_text()
    assert "API token “nightly job”" in text and "Browser session" in text
    assert "cs1_" not in text
    await no_serious_violations(page, "tokens dialog")
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "admin-tokens.png"))

    await dialog.get_by_role("button", name="Revoke API token “nightly job” of tess").click()
    await confirm(page, "Revoke")
    await dialog.locator('tr[data-kind="api"]').wait_for(state="detached")
    await dialog.get_by_role("status").filter(has_text="is revoked").wait_for()
    assert await rows.count() == 1
    async with httpx.AsyncClient(base_url=server.http_url) as c:
        assert (await c.get("/api/collab/me", headers=api_token)).status_code == 401
        assert (await c.get("/api/collab/me", headers=session)).status_code == 200
    await dialog.get_by_role("button", name="Close").click()
    await dialog.wait_for(state="detached")
    assert page.errors == []
    await page.context.close()


async def test_the_page_fits_a_phone(browser, accounts):
    page = await open_page(browser, accounts, "/admin", accounts.tokens["root"], width=390)
    await page.locator('[data-testid="users"] tr[data-user="olga"]').wait_for()
    wide = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"the page is {wide}px wider than a phone"
    await no_serious_violations(page, "admin page at 390px")
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "admin-390.png"), full_page=True)
    assert page.errors == []
    await page.context.close()


async def test_people_who_are_not_administrators_are_not_shown_the_page(browser, accounts):
    page = await open_page(browser, accounts, "/", _plain_token(accounts))
    await page.wait_for_selector(".entries, .notice")
    await page.click('[data-testid="user-menu"]')
    await page.wait_for_selector(".menu:not([hidden])")
    assert await page.locator('[data-testid="menu-admin"]').count() == 0
    await page.goto(f"{accounts.http_url}/admin")
    await page.locator('[data-testid="admin-refused"]').wait_for()
    assert await page.locator('[data-testid="users"]').count() == 0
    await no_serious_violations(page, "admin page refused")
    await page.context.close()


def _plain_token(server: Any) -> str:
    """A fresh account that is no administrator (the other test may have made pete one)."""
    root = {"Authorization": f"token {server.tokens['root']}"}
    with httpx.Client(base_url=server.http_url, headers=root) as c:
        r = c.post("/api/collab/admin/users", json={"name": "vic", "password": "vic-password-1"})
        assert r.status_code in (201, 409), r.text
    r = httpx.post(f"{server.http_url}/api/collab/login",
                   json={"username": "vic", "password": "vic-password-1"})  # fmt: skip
    return str(r.json()["token"])


async def test_your_own_row_offers_no_disable_or_step_down(browser, accounts):
    page = await open_page(browser, accounts, "/admin", accounts.tokens["root"])
    mine = page.locator('[data-testid="users"] tr[data-user="root"]')
    other = page.locator('[data-testid="users"] tr[data-user="olga"]')
    await other.locator('[data-testid="toggle-disabled"]').wait_for()  # the table is drawn
    for testid in ("toggle-disabled", "toggle-admin"):
        assert not await mine.locator(f'[data-testid="{testid}"]').is_visible(), testid
    note = mine.locator('[data-testid="self-note"]')
    assert "another administrator" in await note.inner_text()
    assert await note.get_attribute("title")
    await mine.locator('[data-testid="reset-password"]').wait_for()  # the rest stays
    groups_help = await page.locator('section[aria-labelledby="groups-title"]').inner_text()
    assert "group:" not in groups_help
    await no_serious_violations(page, "admin page, your own row")
    assert page.errors == []
    await page.context.close()
