"""Waiting on stock JupyterLab's kernel session in a Playwright page, by what JupyterLab shows:
the status bar's kernel item ("<kernel name> | <status>", from the session context's display
status) and the "Select Kernel" dialog.

When a notebook opens, JupyterLab's session context says "Initializing" until it has either
connected to a session, started the preferred kernel, or found that it must ask: then it shows
the "Select Kernel" dialog, still "Initializing" until the dialog is answered. So "the dialog
is open, or the status is past Initializing" is the moment the dialog question is settled
(the notebook toolbar's execution indicator is no such sign: it says "idle" before any
session exists)."""

from __future__ import annotations

from typing import Any

# The status bar's kernel item: its title names the notebook, its text "name | status".
KERNEL_ITEM = '[title^="Change kernel for"]'

_SETTLED = """(item) => {
  if (document.querySelector('.jp-Dialog')) return 'dialog';
  for (const node of document.querySelectorAll(item)) {
    const status = (node.textContent || '').split(' | ')[1];
    if (status && status.trim() && status.trim() !== 'Initializing') return 'settled';
  }
  return false;
}"""

_IDLE = """(item) => [...document.querySelectorAll(item)].some((node) => {
  const [name, status] = (node.textContent || '').split(' | ');
  return !!name && name.trim() !== 'No Kernel' && (status || '').trim() === 'Idle';
})"""


async def settle_kernel_choice(page: Any, accept: bool, timeout: float = 60_000) -> None:
    """Wait until JupyterLab has either asked which kernel to use or decided without asking;
    if it asked, take the default kernel (``accept``) or close the dialog with no kernel."""
    found = await page.wait_for_function(_SETTLED, arg=KERNEL_ITEM, timeout=timeout)
    if await found.json_value() == "dialog":
        if accept:
            await page.click(".jp-Dialog .jp-mod-accept")
        else:
            await page.keyboard.press("Escape")
        await page.wait_for_selector(".jp-Dialog", state="detached")


async def kernel_idle(page: Any, timeout: float = 60_000) -> None:
    """Wait until the notebook's session has a kernel, connected and idle."""
    await page.wait_for_function(_IDLE, arg=KERNEL_ITEM, timeout=timeout)
