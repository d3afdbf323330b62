"""Warm kernels per app: started, setup cells run, parked; each used for one run only.

Voila's "preheated kernels" and papermill's often-asked warm start (papermill#326, #616):
starting a kernel and importing libraries is most of a small app's time to result. A parked
kernel has run the cells above the ``parameters`` cell — with no identity in its environment
(it does not know yet who it will run for), so setup cells must not depend on the caller;
the caller's identity is set when the kernel is taken (:meth:`AppKernel.set_env`), before the
parameters and everything after them run.

A kernel is never given back after a run: each run gets a kernel nobody else's code touched.
Taking one starts a replacement. A pool belongs to one published version; a newer version
(or :meth:`WarmPool.drain`) shuts the old kernels down. Pools nobody used for ``idle``
seconds are drained, so an app run once a month does not hold a kernel all month.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .executor import AppKernel

log = logging.getLogger("collab_server.apps")


@dataclass
class Parked:
    kernel: AppKernel
    notebook: Any  # a NotebookNode: the setup cells executed (their outputs go into each run)
    parked_at: float = field(default_factory=time.monotonic)


Factory = Callable[[], Awaitable[Parked]]


@dataclass
class _Pool:
    version: int
    factory: Factory
    parked: list[Parked] = field(default_factory=list)
    starting: set[asyncio.Task[None]] = field(default_factory=set)
    used: float = field(default_factory=time.monotonic)
    failed: bool = False  # a setup failed: no more warm starts for this version


class WarmPool:
    def __init__(self, size: int, idle: float = 900.0) -> None:
        self.size = max(0, size)
        self.idle = idle
        self._pools: dict[str, _Pool] = {}
        self._closed = False
        self._stopping: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def want(self, app_id: str, version: int, factory: Factory) -> None:
        """Keep ``size`` kernels of this app version parked (start the missing ones)."""
        if not self.enabled or self._closed:
            return
        pool = self._pools.get(app_id)
        if pool is not None and pool.version != version:
            self._discard(app_id)
            pool = None
        if pool is None:
            pool = self._pools[app_id] = _Pool(version, factory)
        pool.used = time.monotonic()
        if pool.failed:
            return
        for _ in range(self.size - len(pool.parked) - len(pool.starting)):
            task = asyncio.ensure_future(self._fill(app_id, pool))
            pool.starting.add(task)
            task.add_done_callback(pool.starting.discard)

    async def _fill(self, app_id: str, pool: _Pool) -> None:
        try:
            parked = await pool.factory()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            pool.failed = True
            log.warning("A warm kernel for app %s could not be prepared: %s", app_id, e)
            return
        if self._closed or self._pools.get(app_id) is not pool:
            await parked.kernel.shutdown()
            return
        pool.parked.append(parked)

    def take(self, app_id: str, version: int) -> Parked | None:
        """A parked kernel of this app version (removed from the pool), or None."""
        pool = self._pools.get(app_id)
        if pool is None or pool.version != version:
            return None
        pool.used = time.monotonic()
        while pool.parked:
            parked = pool.parked.pop(0)
            if parked.kernel.closed:
                continue
            return parked
        return None

    def stats(self, app_id: str) -> dict[str, int]:
        pool = self._pools.get(app_id)
        if pool is None:
            return {"parked": 0, "starting": 0}
        return {"parked": len(pool.parked), "starting": len(pool.starting)}

    def parked_kernels(self) -> list[AppKernel]:
        return [p.kernel for pool in self._pools.values() for p in pool.parked]

    def _discard(self, app_id: str, shutdown: bool = True) -> list[Parked]:
        pool = self._pools.pop(app_id, None)
        if pool is None:
            return []
        for task in pool.starting:
            task.cancel()  # the factory shuts down a kernel it was starting
        parked, pool.parked = pool.parked, []
        if shutdown:
            for p in parked:
                task = asyncio.ensure_future(p.kernel.shutdown())
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)
        return parked

    def drain(self, app_id: str) -> None:
        self._discard(app_id)

    def drain_idle(self) -> None:
        now = time.monotonic()
        for app_id, pool in list(self._pools.items()):
            if now - pool.used > self.idle:
                self._discard(app_id)

    async def close(self) -> None:
        self._closed = True
        kernels: list[Parked] = []
        tasks: list[asyncio.Task[None]] = []
        for app_id in list(self._pools):
            pool = self._pools[app_id]
            tasks.extend(pool.starting)
            kernels.extend(self._discard(app_id, shutdown=False))
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await asyncio.gather(*(p.kernel.shutdown() for p in kernels), return_exceptions=True)
