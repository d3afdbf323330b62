"""The app page (/apps/{id}) in real Chromium: a form from the app's parameters (an emptied
field refused beside it), Run, progress, the result as a table and the report without code,
a failed run in words (no traceback, no code), past runs with their parameters, parameters in
the address;
sharing a finished run, and the shared run as its reader sees it (read-only, "Run by …");
scheduling the app from the page and deleting the schedule."""

from __future__ import annotations

import json
from typing import Any

import nbformat
from axe import axe_violations, describe

from collab_server.core.time import parse_iso
from support.browser import needs_chromium, open_page

pytestmark = needs_chromium

PARAMETERS = (
    'n = 3  # how many values\nname = "world"\nflag = False\nday = "2026-01-01"  # first day'
)
RESULT = (
    "from IPython.display import JSON, display\n"
    "display(JSON({'total': sum(range(n)), 'name': name, 'flag': flag, 'day': day, 'days': [day]}))"
)
OVERRIDE = {"properties": {"name": {"enum": ["world", "moon"]}, "day": {"format": "date"}}}


def app_notebook(check: str = "print('secret code path')") -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nb.metadata["collab"] = {"parameters": OVERRIDE}
    cells = [
        ("", "import os"),
        ("parameters", PARAMETERS),
        ("", check),
        ("result", RESULT),
    ]
    for i, (tag, source) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source, id=f"c{i}")
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    return dict(json.loads(nbformat.writes(nb)))


async def result_table(page: Any) -> dict[str, str]:
    """The result table's rows, as ``{key: value}`` text."""
    rows = page.locator('[data-testid="result-table"] tr')
    await rows.first.wait_for()
    return {
        await row.locator("th").inner_text(): await row.locator("td").inner_text()
        for row in await rows.all()
    }


async def check_a11y(page: Any, what: str) -> None:
    failing = [v for v in await axe_violations(page) if v["impact"] in ("critical", "serious")]
    assert not failing, f"{what}:\n{describe(failing)}"


async def test_fill_the_form_run_and_see_the_result(browser, spawn_server):
    server = spawn_server("--CollabServer.apps_pool_size=0")
    (server.root / "report.ipynb").write_text(json.dumps(app_notebook()))
    async with server.client("admin-token") as c:
        r = await c.post("/api/collab/publish/report.ipynb", json={"title": "Totals report"})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]

    page = await open_page(browser, server, f"/apps/{pid}", "admin-token")
    await page.get_by_role("heading", name="Totals report").wait_for()
    # One field per parameter, of the kind its schema says.
    assert await page.locator('[data-testid="param-n"]').get_attribute("type") == "number"
    assert await page.locator('[data-testid="param-day"]').get_attribute("type") == "date"
    assert await page.locator('[data-testid="param-flag"]').get_attribute("type") == "checkbox"
    assert await page.locator('select[data-testid="param-name"] option').count() == 2
    assert await page.locator('[data-testid="param-n"]').input_value() == "3"
    await page.get_by_text("how many values").wait_for()

    await page.fill('[data-testid="param-n"]', "5")
    await page.select_option('[data-testid="param-name"]', "moon")
    await page.check('[data-testid="param-flag"]')
    await page.fill('[data-testid="param-day"]', "2026-03-04")
    await page.click('[data-testid="run-app"]')
    await page.locator('[data-testid="run-status"]:has-text("Done")').wait_for(timeout=60_000)
    # A flat object is a table of text (no braces, no quotes); nested values compact JSON.
    assert await result_table(page) == {
        "total": "10",
        "name": "moon",
        "flag": "true",
        "day": "2026-03-04",
        "days": '["2026-03-04"]',
    }
    await page.get_by_role("heading", name="Result", exact=True).wait_for()
    await page.get_by_role("heading", name="Report", exact=True).wait_for()
    # The report shows outputs, not code, in the sandboxed frame.
    frame = page.frame_locator('[data-testid="report-frame"]')
    await frame.get_by_text("secret code path").wait_for(timeout=60_000)
    assert await frame.get_by_text("print(").count() == 0
    assert await page.locator('[data-testid="report-frame"]').get_attribute("sandbox") == (
        "allow-scripts"
    )
    # The run is a bookmark, and is listed among the person's runs.
    assert "n=5" in page.url and "name=moon" in page.url and "flag=true" in page.url
    await page.locator('[data-testid="run-history"] li a').first.wait_for()
    params = page.locator('[data-testid="run-history"] li [data-testid="run-params"]')
    assert await params.first.inner_text() == "n=5, name=moon, flag=true, day=2026-03-04"
    await check_a11y(page, "finished run")
    bookmark = page.url

    # The finished run is shared with one person through the dialog.
    await page.click('[data-testid="share-run"]')
    dialog = page.locator('[data-testid="run-share-dialog"]')
    await dialog.get_by_text("Only you can see this run.").wait_for()
    await dialog.get_by_label("Name").fill("")
    await dialog.locator('[data-testid="run-share-add"]').click()
    await dialog.get_by_text("Type the person's name.").wait_for()
    await dialog.get_by_label("Share with").select_option("user")
    await dialog.get_by_label("Name").fill("rita")
    await dialog.locator('[data-testid="run-share-add"]').click()
    await dialog.locator('li[data-principal="user:rita"]').wait_for()
    await check_a11y(page, "run share dialog")
    await dialog.get_by_role("button", name="Close").click()

    # Rita opens the bookmark: the result and report, read-only, saying whose run it is.
    rita = await open_page(browser, server, f"/apps/{pid}", "runner-token")
    await rita.get_by_role("heading", name="Totals report").wait_for()
    await rita.goto(bookmark)
    # By the runner's name, not their persistent id ("admin").
    run_by = rita.locator('[data-testid="run-by"]:has-text("Run by Ada Admin")')
    await run_by.wait_for(timeout=30_000)
    assert (await result_table(rita))["name"] == "moon"
    await (
        rita.frame_locator('[data-testid="report-frame"]')
        .get_by_text("secret code path")
        .wait_for(timeout=30_000)
    )
    assert await rita.locator('[data-testid="share-run"]').is_hidden()
    assert await rita.locator('[data-testid="cancel-run"]').is_hidden()
    await rita.locator('[data-testid="shared-runs"] li a').first.wait_for()
    await check_a11y(rita, "shared run")

    # Unshared in the dialog: the bookmark no longer shows it to her.
    await page.click('[data-testid="share-run"]')
    await dialog.get_by_role("button", name="Stop sharing with rita").click()
    await dialog.get_by_text("Only you can see this run.").wait_for()
    await dialog.get_by_role("button", name="Close").click()
    await rita.goto(bookmark)
    await rita.get_by_text("it is not shared with you").wait_for(timeout=30_000)
    assert rita.errors == []

    # Parameters in the address fill the form.
    await page.goto(f"{server.http_url}/apps/{pid}?n=7&name=moon")
    await page.get_by_role("heading", name="Totals report").wait_for()
    assert await page.locator('[data-testid="param-n"]').input_value() == "7"
    assert await page.locator('[data-testid="param-name"]').input_value() == "moon"
    assert page.errors == []


async def test_schedule_the_app_from_its_page_then_delete_the_schedule(browser, spawn_server):
    server = spawn_server("--CollabServer.apps_pool_size=0")
    (server.root / "weekly.ipynb").write_text(json.dumps(app_notebook()))
    async with server.client("admin-token") as c:
        r = await c.post("/api/collab/publish/weekly.ipynb", json={"title": "Weekly totals"})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
    url = f"/api/collab/apps/{pid}/schedules"

    page = await open_page(browser, server, f"/apps/{pid}", "admin-token")
    await page.get_by_role("heading", name="Weekly totals").wait_for()
    section = page.get_by_role("region", name="Schedules")
    await section.get_by_text("None.").wait_for()

    # The form checks the parameters as it does for Run: nothing wrong is scheduled.
    await page.fill('[data-testid="param-n"]', "2.5")
    await page.click('[data-testid="schedule-app"]')
    await page.locator('[data-testid="param-n-error"]:has-text("Enter a whole number")').wait_for()
    await page.locator('[data-testid="form-error"]:has-text("Check \\"n\\"")').wait_for()
    assert await page.locator('[data-testid="schedule-dialog"]').count() == 0
    await page.fill('[data-testid="param-n"]', "5")
    await page.select_option('[data-testid="param-name"]', "moon")
    await page.click('[data-testid="schedule-app"]')
    dialog = page.get_by_role("dialog", name="Schedule this app")
    await dialog.get_by_text("n = 5, name = moon").wait_for()

    # A cron expression the server refuses: its reason, in words.
    await dialog.get_by_label("How often").select_option("custom")
    await dialog.get_by_label("Cron expression (UTC)").fill("0 25 * * *")
    await dialog.get_by_role("button", name="Schedule", exact=True).click()
    await dialog.get_by_text("is not a valid cron expression").wait_for()
    assert await page.locator('[data-testid="schedules"] li[data-schedule]').count() == 0

    await dialog.get_by_label("How often").select_option("week")
    await dialog.get_by_label("Day of the week").select_option(label="Wednesday")
    await dialog.get_by_label("At (time in UTC)").fill("06:45")
    await dialog.get_by_text("Runs: Every Wednesday at 06:45 UTC").wait_for()
    await check_a11y(page, "schedule dialog")
    await dialog.get_by_role("button", name="Schedule", exact=True).click()

    item = section.locator("li[data-schedule]")
    await item.get_by_text("Every Wednesday at 06:45 UTC").wait_for()
    assert await page.locator('[data-testid="schedule-dialog"]').count() == 0
    assert await item.locator('[data-testid="schedule-parameters"]').inner_text() == (
        "n = 5, name = moon"
    )
    assert await item.locator('[data-testid="schedule-state"]').inner_text() == "Active"
    assert await item.locator('[data-testid="schedule-last"]').inner_text() == "Not yet"
    shown_next = await item.locator('[data-testid="schedule-next"]').inner_text()
    async with server.client("admin-token") as c:
        [schedule] = (await c.get(url)).json()["schedules"]
    assert schedule["cron"] == "45 6 * * 3" and schedule["active"]
    assert schedule["parameters"] == {"n": 5, "name": "moon"}
    assert shown_next == parse_iso(schedule["next"]).strftime("%Y-%m-%d %H:%M UTC")
    await check_a11y(page, "schedules section")

    # Delete asks first; then the schedule is gone, on the page and over REST.
    await item.get_by_role(
        "button", name="Delete the schedule: Every Wednesday at 06:45 UTC"
    ).click()
    confirm = page.get_by_role("alertdialog")
    await confirm.get_by_text("It will not run again.").wait_for()
    await confirm.get_by_role("button", name="Delete").click()
    await section.get_by_text("None.").wait_for()
    await page.get_by_text('Deleted the schedule "Every Wednesday at 06:45 UTC".').wait_for()
    async with server.client("admin-token") as c:
        assert (await c.get(url)).json()["schedules"] == []
        assert (await c.get(f"/api/collab/schedules/{schedule['id']}")).status_code == 404
    assert page.errors == []


async def test_an_emptied_field_is_refused_and_a_failed_run_says_why_without_code(
    browser, spawn_server
):
    server = spawn_server("--CollabServer.apps_pool_size=0")
    check = (
        "import time\nif n < 0:\n    raise ValueError('n must not be negative')\n"
        "if n == 99:\n    time.sleep(120)\nprint('secret code path')"
    )
    (server.root / "check.ipynb").write_text(json.dumps(app_notebook(check)))
    async with server.client("admin-token") as c:
        r = await c.post("/api/collab/publish/check.ipynb", json={"title": "Checked totals"})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]

    page = await open_page(browser, server, f"/apps/{pid}", "admin-token")
    await page.get_by_role("heading", name="Checked totals").wait_for()
    await page.locator('[data-testid="run-history"]').get_by_text("None yet.").wait_for()
    field = page.locator('[data-testid="param-n"]')
    error = page.locator('[data-testid="param-n-error"]')

    # An emptied number field is refused beside the field, not run with the hidden default.
    await field.fill("")
    await page.click('[data-testid="run-app"]')
    await error.get_by_text("Enter a whole number").wait_for()
    assert await field.get_attribute("aria-invalid") == "true"
    assert "param-n-error" in (await field.get_attribute("aria-describedby") or "").split()
    assert await page.locator('[data-testid="form-error"]').inner_text() == (
        'Check "n": Enter a whole number.'
    )
    assert await page.evaluate("document.activeElement.id") == "param-n"
    await check_a11y(page, "a field refused")
    # Typing in the field takes the message away.
    await field.fill("-1")
    await error.wait_for(state="hidden")
    assert await field.get_attribute("aria-invalid") is None

    # A run that fails: the message in words, no class name, no code, no full bar.
    await page.click('[data-testid="run-app"]')
    status = page.locator('[data-testid="run-status"]')
    await status.get_by_text(
        "The app stopped: n must not be negative. Change the values and run again."
    ).wait_for(timeout=60_000)
    assert await page.locator("progress").is_hidden()
    frame = page.frame_locator('[data-testid="report-frame"]')
    await frame.get_by_text("The app stopped: n must not be negative").wait_for(timeout=60_000)
    report = await frame.locator("body").inner_text()
    shown = await page.locator("main").inner_text()
    for code in ("Traceback", "raise", "ValueError", "n < 0", "---->"):
        assert code not in report, code
        assert code not in shown, code
    # The run is listed with its values and how it ended; the refused click ran nothing
    # (this run, started after it, is the only one).
    item = page.locator('[data-testid="run-history"] li')
    # The list is drawn when a run starts and again once it ended: wait for the second.
    await item.filter(has_text="n=-1").filter(has_text="Failed").wait_for()
    assert await item.count() == 1
    async with server.client("admin-token") as c:
        runs = (await c.get(f"/api/collab/apps/{pid}/runs")).json()["runs"]
    assert [run["parameters"] for run in runs] == [{"n": -1}]
    # Programs still get the error as it was raised.
    assert runs[0]["error"]["ename"] == "ValueError"
    await check_a11y(page, "failed run")

    # A cancelled run says so plainly.
    await field.fill("99")
    await page.click('[data-testid="run-app"]')
    await status.get_by_text("Running cell 4 of 5").wait_for(timeout=60_000)
    await page.click('[data-testid="cancel-run"]')
    await status.get_by_text("Cancelled: the app was stopped before it finished.").wait_for(
        timeout=60_000
    )
    assert await page.locator("progress").is_hidden()
    await item.filter(has_text="n=99").filter(has_text="Cancelled").wait_for()
    assert page.errors == []
