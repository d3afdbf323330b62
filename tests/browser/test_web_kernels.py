"""Running code from the web page, in real Chromium against a real server and a real kernel:
two people on one notebook see the same run live (the prompt, who runs it, the output as it
arrives), run all stops at an error (whose traceback keeps its colours), interrupt, restart
with a confirmation, input() answered from another browser, and people without the right to
run code get no run controls and a line saying why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import write_notebook
from support.browser import needs_chromium, open_page

pytestmark = [needs_chromium, pytest.mark.timeout(180)]

ARTIFACTS = Path("tests/artifacts")
SLOW = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.5)"


@pytest.fixture(autouse=True)
async def stop_new_kernels(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Shut down the kernels a test started on the shared server (each person may run only
    a few at once: later tests must not find Rita's places taken)."""
    if "server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("server")
    async with server.client("admin-token") as c:
        before = {k["id"] for k in (await c.get("/api/kernels")).json()}
    yield
    async with server.client("admin-token") as c:
        for kernel in (await c.get("/api/kernels")).json():
            if kernel["id"] not in before:
                await c.delete(f"/api/kernels/{kernel['id']}")


async def open_notebook(browser: Any, server: Any, path: str, token: str) -> Any:
    page = await open_page(browser, server, f"/notebooks/{path}", token)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await page.wait_for_selector(".cell .cm-content")
    # The kernel's part of the toolbar is drawn. (It says "none" until the kernel's state is
    # fetched, and after, if there is no kernel yet: tests wait for the state they need.)
    await page.wait_for_selector('[data-testid="kernel-status"]')
    return page


def cell(n: int) -> str:
    return f".cell >> nth={n}"


async def output_of(page: Any, n: int) -> str:
    return str(await page.locator(cell(n)).locator(".outputs").inner_text())


async def wait_output(page: Any, n: int, text: str, timeout: float = 60_000) -> None:
    await page.wait_for_function(
        "([n, text]) => (document.querySelectorAll('.cell')[n]?.querySelector('.outputs')"
        "?.textContent || '').includes(text)",
        arg=[n, text],
        timeout=timeout,
    )


async def prompt_is(page: Any, n: int, text: str, timeout: float = 60_000) -> None:
    await page.wait_for_function(
        "([n, text]) => document.querySelectorAll('.cell')[n]"
        "?.querySelector('[data-testid=prompt]')?.textContent === text",
        arg=[n, text],
        timeout=timeout,
    )


async def status_is(page: Any, state: str, timeout: float = 60_000) -> None:
    await page.wait_for_selector(
        f'[data-testid="kernel-status"][data-state="{state}"]', timeout=timeout
    )


async def test_a_run_is_seen_live_by_everyone_and_survives_the_runner_leaving(browser, server):
    path = write_notebook(server.root, [SLOW, "print('second')"], "webkernels/live.ipynb")
    rita = await open_notebook(browser, server, path, "runner-token")
    alice = await open_notebook(browser, server, path, "alice-token")
    try:
        # Alice may edit but not run code: no run controls, and a line saying why.
        await alice.wait_for_selector('[data-testid="no-execute"]')
        assert "running code needs permission from an administrator" in (
            await alice.inner_text('[data-testid="no-execute"]')
        )
        assert await alice.locator(".run-cell, .run-all, .interrupt, .restart").count() == 0
        assert await rita.locator('[data-testid="no-execute"]').count() == 0
        await prompt_is(alice, 0, "[ ]")
        # Rita runs the first cell with its Run button.
        await rita.locator(cell(0)).locator(".run-cell").click()
        await prompt_is(rita, 0, "[*]")
        await rita.locator(cell(1)).locator(".run-cell").click()
        # Alice sees it run: [*], who runs it (Rita's initials, as in presence), for how long;
        # and the second cell queued behind it.
        await prompt_is(alice, 0, "[*]")
        await alice.wait_for_selector(".cell.queued [data-testid=run-by]:has-text('Queued by')")
        await prompt_is(alice, 1, "[*]")
        await alice.wait_for_selector('[data-testid="run-by"]:has-text("Rita Runner is running")')
        await alice.wait_for_selector(".cell.running .run-line .person:has-text('R')")
        await status_is(alice, "busy")
        await wait_output(alice, 0, "0")
        await alice.screenshot(path=str(ARTIFACTS / "kernel-live-viewer.png"))
        # Rita closes her browser mid-run: the output keeps arriving for Alice.
        await rita.context.close()
        await wait_output(alice, 0, "2", timeout=30_000)
        await prompt_is(alice, 0, "[1]", timeout=30_000)
        await status_is(alice, "idle")
        assert (await output_of(alice, 0)).split() == ["0", "1", "2"]
        await wait_output(alice, 1, "second")
        await prompt_is(alice, 1, "[2]")
        assert await alice.locator('[data-testid="run-by"]').count() == 0
        # Alice may not run code: the state in plain words, as text (not a pill).
        status = alice.locator('[data-testid="kernel-status"]')
        assert await status.inner_text() == "Code is ready"
        assert await status.evaluate("n => getComputedStyle(n).borderTopStyle") == "none"
        assert "runs as Rita Runner" in await alice.inner_text('[data-testid="kernel-runs-as"]')
        await alice.screenshot(path=str(ARTIFACTS / "kernel-live-done.png"))
        assert not alice.errors
    finally:
        await alice.context.close()
        if not rita.is_closed():
            await rita.context.close()


RICH = """from IPython.display import display, Markdown, JSON, Latex, SVG, HTML
display(Markdown('**bold** and <script>window.bad = 1</script>'))
display(JSON({'a': [1, 2]}))
display(Latex(r'$\\frac{1}{2}$'))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">'
            '<circle r="9" cx="10" cy="10"/></svg>'))
display(HTML('<b>html</b>'))"""


async def test_run_all_stops_at_the_first_error_and_outputs_are_rich(browser, server):
    path = write_notebook(
        server.root,
        ["a = 6 * 7", RICH, "print(a)\nraise ValueError('boom')", "print('never ran')"],
        "webkernels/runall.ipynb",
    )
    rita = await open_notebook(browser, server, path, "runner-token")
    try:
        await rita.click(".run-all")
        await wait_output(rita, 2, "ValueError")
        # The batch stopped at the error: once the kernel is idle again (nothing queued),
        # the last cell has not run.
        await status_is(rita, "idle")
        await rita.wait_for_function("() => !document.querySelector('.cell.running, .cell.queued')")
        await prompt_is(rita, 0, "[1]")
        await prompt_is(rita, 2, "[3]")
        await prompt_is(rita, 3, "[ ]")
        assert await rita.locator(cell(3)).locator(".output").count() == 0
        # The traceback keeps its colours, as spans (no escape codes left in the text).
        error = rita.locator(cell(2)).locator(".output.error")
        assert await error.locator("span[class*='ansi-']").count() > 0
        text = await error.inner_text()
        assert "\x1b" not in text and "ValueError: boom" in text
        # Rich outputs: sanitized Markdown, JSON, LaTeX source, SVG as an image, HTML framed.
        rich = rita.locator(cell(1))
        await rich.locator(".markdown-output strong:has-text('bold')").wait_for()
        assert await rich.locator(".markdown-output script").count() == 0
        assert '"a"' in await rich.locator(".output.json").inner_text()
        assert "\\frac{1}{2}" in await rich.locator(".output.latex").inner_text()
        assert await rich.locator("img[src^='data:image/svg+xml;base64,']").count() == 1
        assert await rich.locator("svg circle").count() == 0  # never inline
        assert await rich.locator("iframe.output.html[sandbox='allow-scripts']").count() == 1
        assert await rita.evaluate("() => window.bad") is None
        await rita.screenshot(path=str(ARTIFACTS / "kernel-run-all.png"), full_page=True)
        assert not rita.errors
    finally:
        await rita.context.close()


async def test_keyboard_interrupt_and_restart_with_confirmation(browser, server):
    path = write_notebook(
        server.root,
        ["x = 1\nx * 2", "import time\ntime.sleep(60)", "print(x)"],
        "webkernels/interrupt.ipynb",
    )
    rita = await open_notebook(browser, server, path, "runner-token")
    try:
        # Shift+Enter runs the cell and moves to the next one; it runs what was just typed.
        await rita.click(".cell >> nth=0 >> .cm-line >> nth=1")
        await rita.keyboard.press("End")
        await rita.keyboard.type("1")
        await rita.keyboard.press("Shift+Enter")
        await prompt_is(rita, 0, "[1]")
        await wait_output(rita, 0, "21")
        await rita.wait_for_selector(".cell:nth-child(2) .cm-focused")
        # Ctrl+Enter runs in place (the focus stays in the cell).
        await rita.keyboard.press("Control+Enter")
        await prompt_is(rita, 1, "[*]")
        await rita.wait_for_selector(".cell:nth-child(2) .cm-focused")
        await rita.wait_for_selector("[data-testid=elapsed]:has-text('1 s')")
        await status_is(rita, "busy")
        await rita.click(".interrupt")
        await wait_output(rita, 1, "KeyboardInterrupt")
        await status_is(rita, "idle")
        # Restart asks first; Cancel sends nothing.
        restarts: list[str] = []
        rita.on("request", lambda r: restarts.append(r.url) if r.url.endswith("/restart") else None)
        await rita.click(".restart")
        await rita.click("dialog >> text=Cancel")
        await rita.wait_for_selector("dialog", state="detached")
        await rita.click(".restart")
        await rita.wait_for_selector("dialog:has-text('Restart the kernel?')")
        await rita.screenshot(path=str(ARTIFACTS / "kernel-restart-confirm.png"))
        async with rita.expect_response(lambda r: r.url.endswith("/restart")) as answer:
            await rita.click("dialog >> button:has-text('Restart')")
        assert (await answer.value).ok
        assert len(restarts) == 1  # the one confirmed (its answer came after the cancel)
        await status_is(rita, "idle")
        # The variables are gone: x is not defined any more.
        await rita.click(".cell >> nth=2 >> .run-cell")
        await wait_output(rita, 2, "NameError")
        assert not rita.errors
    finally:
        await rita.context.close()


async def test_input_is_answered_from_another_runner_and_survives_a_reload(browser, server):
    path = write_notebook(
        server.root,
        [
            "name = input('Your name? ')\nprint('hello', name)",
            "import getpass\nprint(len(getpass.getpass('Secret: ')))",
        ],
        "webkernels/input.ipynb",
    )
    rita = await open_notebook(browser, server, path, "runner-token")
    ada = await open_notebook(browser, server, path, "admin-token")
    victor = await open_notebook(browser, server, path, "viewer-token")
    try:
        await rita.click(".cell >> nth=0 >> .run-cell")
        await ada.wait_for_selector("[data-testid=input-box]:has-text('Your name?')")
        # A reload keeps the pending prompt (it is in the kernel's state).
        await ada.reload()
        await ada.wait_for_selector("[data-testid=input-field][type=text]")
        # The viewer sees that the cell waits, without a field, and no run controls.
        await victor.wait_for_selector("[data-testid=input-waiting]:has-text('Your name?')")
        assert await victor.locator("[data-testid=input-field]").count() == 0
        assert (
            await victor.locator(".run-cell, .run-all, .interrupt, .restart, .clear-all").count()
            == 0
        )
        assert "running code needs permission" in await victor.inner_text(
            "[data-testid=no-execute]"
        )
        await ada.fill("[data-testid=input-field]", "Ada")
        await ada.keyboard.press("Enter")
        for page in (rita, ada, victor):
            await wait_output(page, 0, "hello Ada")
        await rita.wait_for_selector("[data-testid=input-box]", state="detached")
        # A password prompt is masked.
        await ada.click(".cell >> nth=1 >> .run-cell")
        await rita.wait_for_selector("[data-testid=input-field][type=password]")
        await rita.fill("[data-testid=input-field]", "hunter2")
        await rita.screenshot(path=str(ARTIFACTS / "kernel-input-password.png"))
        await rita.keyboard.press("Enter")
        await wait_output(victor, 1, "7")
        assert "hunter2" not in await victor.locator(cell(1)).inner_text()
        await victor.screenshot(path=str(ARTIFACTS / "kernel-viewer.png"))
        for page in (rita, ada, victor):
            assert not page.errors
    finally:
        for page in (rita, ada, victor):
            await page.context.close()


async def test_a_kernel_lost_in_a_crash_says_so_and_a_run_starts_a_new_one(browser, spawn_server):
    server = spawn_server()
    path = write_notebook(
        server.root, ["import time\ntime.sleep(60)", "print('new')"], "lost.ipynb"
    )
    rita = await open_notebook(browser, server, path, "runner-token")
    try:
        await rita.click(".cell >> nth=0 >> .run-cell")
        await prompt_is(rita, 0, "[*]")
        server.kill()
        server.restart()
        lost = rita.locator("[data-testid=kernel-lost]")
        await lost.wait_for(timeout=60_000)
        assert await lost.inner_text() == (
            "The kernel was lost (the server restarted). Run a cell to start a new one."
        )
        await status_is(rita, "lost")
        # Not running any more ("[ ]", or "[1]" if the kernel had numbered it before the crash).
        await rita.wait_for_function(
            "() => document.querySelector('.cell [data-testid=prompt]').textContent !== '[*]'"
        )
        assert await rita.locator(".cell.running, [data-testid=run-by]").count() == 0
        await rita.screenshot(path=str(ARTIFACTS / "kernel-lost.png"))
        await rita.click(".cell >> nth=1 >> .run-cell")
        await wait_output(rita, 1, "new")
        await status_is(rita, "idle")
        assert await lost.count() == 0
        # The run cut short by the crash is explained by the state, not by an error toast.
        assert await rita.locator(".toast").count() == 0
    finally:
        await rita.context.close()


async def test_a_capped_output_links_to_its_full_text_and_writers_clear_outputs(
    browser, spawn_server
):
    server = spawn_server("--CollabServer.kernel_max_stream_chars=4000")
    sources = ["for i in range(2000):\n    print(f'line {i:05d}')", "print('small')"]
    path = write_notebook(server.root, sources, "capped.ipynb")
    rita = await open_notebook(browser, server, path, "runner-token")
    alice = await open_notebook(browser, server, path, "alice-token")
    try:
        await rita.click(".run-all")
        await wait_output(rita, 1, "small")
        # The document keeps the head and the tail; the page links to the whole text.
        link = rita.locator(cell(0)).locator("[data-testid=full-output]")
        await link.wait_for()
        assert "bytes were left out here" in await rita.locator(cell(0)).inner_text()
        href = await link.get_attribute("href")
        assert href is not None and href.endswith(
            f"/api/collab/kernels/{path}/cells/"
            + await rita.locator(cell(0)).get_attribute("data-cell-id")
            + "/stream"
        )
        full = await rita.evaluate("(url) => fetch(url).then((r) => r.text())", href)
        assert full.count("\n") == 2000 and "line 01000" in full
        await rita.screenshot(path=str(ARTIFACTS / "kernel-capped.png"))
        # Alice (a writer without "execute") may clear outputs: it writes to the document.
        assert await alice.locator(".run-cell").count() == 0
        await wait_output(alice, 1, "small")
        await alice.locator(cell(1)).locator(".clear-cell").click()
        await rita.wait_for_function(
            "() => !document.querySelectorAll('.cell')[1].querySelector('.output')"
        )
        await prompt_is(rita, 1, "[ ]")
        await prompt_is(rita, 0, "[1]")
        await alice.click(".clear-all")
        await rita.wait_for_function("() => !document.querySelector('.cell .output')")
        await prompt_is(rita, 0, "[ ]")
        # A viewer may not: no clear buttons.
        victor = await open_notebook(browser, server, path, "viewer-token")
        assert await victor.locator(".clear-cell, .clear-all").count() == 0
        await victor.context.close()
    finally:
        await rita.context.close()
        await alice.context.close()


async def test_people_who_may_not_run_code_read_its_state_in_plain_words(browser, server):
    path = write_notebook(server.root, ["x = 1"], "webkernels/plain.ipynb")
    victor = await open_notebook(browser, server, path, "viewer-token")
    rita = await open_notebook(browser, server, path, "runner-token")
    try:
        # Nobody runs code yet: the viewer reads it in words, as text (no pill to click);
        # Rita, who may run code, sees the kernel's state.
        status = victor.locator('[data-testid="kernel-status"][data-state="none"]')
        assert await status.inner_text() == "Code is not running"
        assert await status.evaluate("n => getComputedStyle(n).borderTopStyle") == "none"
        assert await rita.inner_text('[data-testid="kernel-status"]') == "No kernel"
        assert victor.errors == [] and rita.errors == []
    finally:
        await victor.context.close()
        await rita.context.close()
