"""One kernel running one notebook: start, run cells with nbclient, time out, shut down.

An :class:`AppKernel` is a kernel of its own (jupyter_client's ``AsyncKernelManager``, not
jupyter_server's shared manager): it never appears in ``/api/kernels``, so nobody can attach
to a kernel that carries another person's identity. It is used for one run and then shut
down (``now=True``: the process is killed), whatever the outcome.

Cells are run by nbclient's ``NotebookClient.async_execute_cell`` on the event loop (the
kernel does the work; nothing here blocks the loop), one at a time so the run can report
which cell it is on. A run that outlives its timeout is interrupted, given a short grace to
stop, then its kernel is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

# How long an interrupted cell may take to stop before its kernel is killed.
INTERRUPT_GRACE = 2.0

log = logging.getLogger("collab_server.apps")


class RunTimedOut(Exception):
    """The run went past its timeout (its kernel was interrupted, then killed)."""


class AppKernel:
    """A kernel started for apps: its manager and its client, used for one run."""

    def __init__(self, km: AsyncKernelManager, kc: Any) -> None:
        self.km = km
        self.kc = kc
        self.closed = False

    @classmethod
    async def start(
        cls,
        kernel_name: str,
        env: dict[str, str],
        cwd: str,
        kernel_spec_manager: Any = None,
        startup_timeout: float = 60.0,
    ) -> AppKernel:
        options: dict[str, Any] = {"kernel_name": kernel_name}
        if kernel_spec_manager is not None:
            options["kernel_spec_manager"] = kernel_spec_manager
        km = AsyncKernelManager(**options)
        kc: Any = None
        try:
            await km.start_kernel(env=env, cwd=cwd)
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=startup_timeout)
        except BaseException:
            # Failed, timed out or cancelled (a run cancelled while its kernel starts): the
            # process may already run, and nobody else knows of it.
            await cls(km, kc).shutdown()
            raise
        kc.allow_stdin = False
        return cls(km, kc)

    @property
    def pid(self) -> int | None:
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        pid = getattr(process, "pid", None) or getattr(provisioner, "pid", None)
        return int(pid) if pid else None

    async def set_env(self, env: dict[str, str]) -> None:
        """Set variables in a running Python kernel's ``os.environ`` (a warm kernel learns who
        it runs for when it is taken). Silent: nothing reaches the notebook's outputs."""
        code = f"import os as _o; _o.environ.update({json.dumps(env)}); del _o"
        reply = await self.kc.execute_interactive(
            code, silent=True, store_history=False, timeout=30, output_hook=lambda msg: None
        )
        if reply.get("content", {}).get("status") != "ok":
            raise RuntimeError("the kernel refused its environment")

    async def shutdown(self) -> None:
        """Kill the kernel (idempotent). Never raises: a run's outcome is already decided."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self.kc.stop_channels()
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:  # already gone, or a dead process: make sure nothing is left
            log.debug("kernel shutdown failed; killing it", exc_info=True)
            with contextlib.suppress(Exception):
                await self.km._async_kill_kernel()  # jupyter_client's last resort
            with contextlib.suppress(Exception):
                self.km.cleanup_resources()


def client_for(nb: NotebookNode, kernel: AppKernel) -> NotebookClient:
    """An nbclient client running cells of ``nb`` in ``kernel`` (which it does not own)."""
    client = NotebookClient(nb, km=kernel.km, timeout=None, allow_errors=False)
    client.kc = kernel.kc
    return client


async def run_cells(
    client: NotebookClient,
    indexes: list[int],
    on_cell: Callable[[int], None] | None = None,
) -> None:
    """Run the cells at ``indexes`` in order; raises nbclient's ``CellExecutionError`` at the
    first error (the rest are not run)."""
    for index in indexes:
        if on_cell is not None:
            on_cell(index)
        await client.async_execute_cell(client.nb.cells[index], index)


async def with_timeout(kernel: AppKernel, work: Any, timeout: float) -> Any:
    """Await ``work`` (a coroutine running cells in ``kernel``) for at most ``timeout``
    seconds; past it the kernel is interrupted, then killed, and :class:`RunTimedOut` raised."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout if timeout > 0 else None)
    except TimeoutError:
        with contextlib.suppress(Exception):
            await kernel.km.interrupt_kernel()
        done, _ = await asyncio.wait({task}, timeout=INTERRUPT_GRACE)
        if not done:
            task.cancel()
        await kernel.shutdown()
        with contextlib.suppress(BaseException):
            await task
        raise RunTimedOut(f"The run took longer than {timeout:g} s and was stopped") from None
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
