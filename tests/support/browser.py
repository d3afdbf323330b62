"""Helpers for the browser tests: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# CI installs chromium (scripts/test.sh); elsewhere the browser tests are skipped without it.
needs_chromium = pytest.mark.skipif(
    not shutil.which("chromium") and not os.environ.get("CI"), reason="Debian's chromium is needed"
)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


async def open_page(browser: Any, server: Any, url: str, token: str, width: int = 1280) -> Any:
    context = await browser.new_context(viewport={"width": width, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    await page.goto(f"{server.http_url}{url}?token={token}")
    return page


# Each cell's text as typed (without the carets and names of other people's cursors).
SOURCES = """() => [...document.querySelectorAll('.cell')].map((cell) => {
  const text = [...cell.querySelectorAll('.cm-line')].map((line) => {
    const copy = line.cloneNode(true);
    copy.querySelectorAll('.cm-ySelectionCaret').forEach((caret) => caret.remove());
    return copy.textContent;
  }).join('\\n');
  return (cell.classList.contains('markdown') ? 'md:' : '') + text;
}).join('|')"""
