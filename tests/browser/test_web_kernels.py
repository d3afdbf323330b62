"""Running code from the web page, in real Chromium against a real server and a real kernel:
two people on one notebook see the same run live (the prompt, who runs it, the output as it
arrives), run all stops at an error (whose traceback keeps its colours), interrupt, restart
with a confirmation, input() answered from another browser, and people without the right to
run code get no run controls and a line saying why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import write_notebook
from support.browser import needs_chromium, open_page

pytestmark = [needs_chromium, pytest.mark.timeout(180)]

ARTIFACTS = Path("tests/artifacts")
SLOW = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.5)"


async def open_notebook(browser: Any, server: Any, path: str, token: str) -> Any:
    page = await open_page(browser, server, f"/notebooks/{path}", token)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await page.wait_for_selector(".cell .cm-content")
    # The kernel's state has been fetched (there is none yet: "No kernel").
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
        # Alice sees it run: [*], who runs it (Rita's initials, as in presence), for how long.
        await prompt_is(alice, 0, "[*]")
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
        assert await alice.locator('[data-testid="run-by"]').count() == 0
        status = await alice.inner_text('[data-testid="kernel-status"]')
        assert "Idle" in status
        assert "runs as Rita Runner" in await alice.inner_text('[data-testid="kernel-runs-as"]')
        await alice.screenshot(path=str(ARTIFACTS / "kernel-live-done.png"))
        assert not alice.errors
    finally:
        await alice.context.close()
        if not rita.is_closed():
            await rita.context.close()
