"""The shared kernels of notebook rooms: one kernel per notebook, run on the server.

This module owns the mapping notebook ↔ kernel and everything around a notebook's kernel:

- starting it (or getting the one the notebook has) through jupyter_server's kernel manager,
  so ``/api/kernels``, ``/api/sessions`` and the kernel websocket keep working; its
  environment is the server's without its secrets (:mod:`.environment`) plus what the
  provider's ``kernel_env(token)`` gives; per-person and per-server limits
  (:class:`KernelLimit`, answered 429);
- running cells through an :class:`~.executor.Executor`, for which :class:`NotebookKernel`
  is the sink: outputs, execution counts and ``execution_state`` are written into the shared
  document through the :class:`~.room_api.NotebookRoom` interface, and the transient state
  (kernel status, queued/running cells, who, since when, a pending ``input()`` prompt) is
  pushed to the room's clients as a RAW ``{"type": "kernel", …}`` message, never written
  into the notebook;
- keeping the room open while the kernel is busy, so outputs keep landing and are saved
  after everyone left;
- culling idle kernels of empty rooms, noticing kernels shut down elsewhere, and after a
  crash of the server, killing the kernels it left running (:mod:`.registry`) and telling
  the page the kernel was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async

from ..auth.provider import KernelEnv, capability, resolve
from ..contents import FileIdStore
from ..rooms import RoomManager
from . import cells
from .environment import DEFAULT_DROP, inherited_environment
from .executor import CellState, Executor, KernelState
from .log import ExecutionLog, ExecutionRecord, iso
from .outputs import DEFAULT_MAX_STREAM_CHARS, OutputChange
from .registry import KernelEntry, KernelRegistry
from .requests import ExecuteRequest, StaleSource, UnknownCell, check_fresh
from .room_adapter import RoomAdapter
from .room_api import NotebookRoom
from .spool import StreamSpool


@dataclass(frozen=True)
class Caller:
    """Who asks: their persistent id, the name others see, and their token (for the
    provider's ``kernel_env``; never logged)."""

    username: str
    display_name: str
    token: str = ""


@dataclass
class KernelOptions:
    cull_idle_seconds: float = 3600.0
    max_kernels_per_user: int = 4
    max_kernels: int = 32
    max_stream_chars: int = DEFAULT_MAX_STREAM_CHARS
    max_outputs: int = 1000
    max_output_rate: int = 200_000
    check_interval: float = 1.0
    #: Server environment variables kernels do not inherit (patterns), and those they keep.
    env_drop: tuple[str, ...] = DEFAULT_DROP
    env_keep: tuple[str, ...] = ()


class KernelProblem(Exception):
    """A request the service refuses: ``status`` and a message a person understands."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class KernelLimit(KernelProblem):
    def __init__(self, message: str) -> None:
        super().__init__(429, message)


async def kernel_env_of(provider: Any, token: str) -> dict[str, str]:
    """The extra environment the provider gives kernels started by the holder of ``token``.

    The one place that looks the capability (:class:`collab_server.auth.KernelEnv`) up.
    """
    found = capability(provider, KernelEnv)
    if found is None:
        return {}
    env = await resolve(found.kernel_env(token))
    if not isinstance(env, dict):
        return {}
    return {str(key): str(value) for key, value in env.items()}


def _now_iso() -> str:
    return iso(datetime.now(UTC))


class NotebookKernel:
    """A notebook's kernel: its executor's sink, and its transient state."""

    def __init__(
        self,
        service: KernelService,
        file_id: str,
        kernel_id: str,
        kernel_name: str,
        owner: Caller,
        room: NotebookRoom,
    ) -> None:
        self.service = service
        self.file_id = file_id
        self.kernel_id = kernel_id
        self.kernel_name = kernel_name
        self.owner = owner
        self.room = room
        self.executor: Executor | None = None
        self.state: KernelState = "starting"
        self.started_at = _now_iso()
        self.cells: dict[str, dict[str, Any]] = {}
        self.input: dict[str, Any] | None = None
        self.names: dict[str, str] = {owner.username: owner.display_name}
        self.last_activity = time.monotonic()
        self._hold_wanted = False
        self._hold_applied = False
        self._hold_task: asyncio.Task[None] | None = None
        self._push_scheduled = False

    @property
    def log(self) -> logging.Logger:
        return self.service.log

    @property
    def busy(self) -> bool:
        return (
            bool(self.cells)
            or self.input is not None
            or self.state in ("starting", "busy", "restarting")
        )

    # --- the room hold --------------------------------------------------------------------

    async def hold(self) -> None:
        """Keep the room open now (a run is about to be queued)."""
        self._hold_wanted = True
        if self._hold_task is not None:
            await asyncio.shield(self._hold_task)
        if not self._hold_applied:
            await self.room.keep_open(True)
            self._hold_applied = True

    def update_hold(self) -> None:
        wanted = bool(self.cells) or self.input is not None
        if wanted == self._hold_wanted:
            return
        self._hold_wanted = wanted
        if self._hold_task is None:
            self._hold_task = asyncio.ensure_future(self._apply_hold())

    async def _apply_hold(self) -> None:
        try:
            while self._hold_applied != self._hold_wanted:
                wanted = self._hold_wanted
                await self.room.keep_open(wanted)
                self._hold_applied = wanted
        except Exception:
            self.log.exception("Keeping the room of kernel %s open failed", self.kernel_id)
        finally:
            self._hold_task = None

    async def release(self) -> None:
        self._hold_wanted = False
        if self._hold_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._hold_task)
        if self._hold_applied:
            await self.room.keep_open(False)
            self._hold_applied = False

    # --- KernelSink ---------------------------------------------------------------------------

    def on_status(self, state: KernelState) -> None:
        self.state = state
        self.last_activity = time.monotonic()
        self.push()

    def on_cell_state(
        self, cell_id: str, state: CellState, who: str | None, since: datetime | None
    ) -> None:
        self.last_activity = time.monotonic()
        if state == "idle":
            self.cells.pop(cell_id, None)
        else:
            self.cells[cell_id] = {
                "cell_id": cell_id,
                "state": state,
                "by": self._person(who or ""),
                "since": iso(since) if since is not None else _now_iso(),
            }
            if state == "running":
                # Running first, the queue after it in order.
                self.cells = {cell_id: self.cells[cell_id]} | {
                    key: value for key, value in self.cells.items() if key != cell_id
                }
        if state != "queued":
            self._write_cell(cell_id, lambda cell: cells.set_execution_state(cell, state))
        self.update_hold()
        self.push()

    def on_outputs(self, cell_id: str, changes: Sequence[OutputChange]) -> None:
        def write(cell: Any) -> None:
            if not cells.apply_output_changes(cell, changes) and self.executor is not None:
                # Someone else changed these outputs (cleared them): stop updating in place.
                self.executor.forget_outputs(cell_id)

        self._write_cell(cell_id, write)

    def on_execution_count(self, cell_id: str, count: int | None) -> None:
        self._write_cell(cell_id, lambda cell: cells.set_execution_count(cell, count))

    def on_input_request(self, cell_id: str, prompt: str, password: bool) -> None:
        self.input = {
            "cell_id": cell_id,
            "prompt": prompt,
            "password": password,
            "since": _now_iso(),
        }
        self.update_hold()
        self.push()

    def on_input_done(self, cell_id: str) -> None:
        self.input = None
        self.update_hold()
        self.push()

    def on_done(self, record: ExecutionRecord) -> None:
        self.last_activity = time.monotonic()
        if record.started_at is None:
            return  # dropped from the queue: it never ran, so it says nothing of the notebook
        doc = self.room.doc
        index = cells.code_index(doc, record.cell_id) if doc is not None else None
        for listener in list(self.service.execution_listeners):
            try:
                listener(record, index)
            except Exception:
                self.log.exception("An execution listener failed")

    # --- helpers ------------------------------------------------------------------------------

    def _person(self, username: str) -> dict[str, str]:
        return {"username": username, "display_name": self.names.get(username, username)}

    def _write_cell(self, cell_id: str, fn: Callable[[Any], None]) -> None:
        def change(doc: Any) -> None:
            cell = cells.find_cell(doc, cell_id)
            if cell is not None:
                fn(cell)

        self.room.apply_server_change("kernel", change)

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "kernel": {
                "id": self.kernel_id,
                "name": self.kernel_name,
                "display_name": self.service.display_name_of(self.kernel_name),
                "started_at": self.started_at,
                "started_by": self._person(self.owner.username),
                # A shared kernel carries the identity of the person who started it.
                "runs_as": self.owner.display_name,
            },
            "cells": list(self.cells.values()),
            "input": dict(self.input) if self.input is not None else None,
        }

    def push(self) -> None:
        """Send the full state to the room's clients (at most once per loop tick)."""
        if self._push_scheduled:
            return
        self._push_scheduled = True
        asyncio.get_running_loop().call_soon(self._push_now)

    def _push_now(self) -> None:
        self._push_scheduled = False
        if self.service.notebooks.get(self.file_id) is not self:
            return
        self.room.send_raw(self.service.state_message(self.file_id))


class KernelService:
    """Every notebook kernel of the server."""

    def __init__(
        self,
        *,
        kernel_manager: Any,
        contents_manager: Any,
        rooms: RoomManager,
        file_ids: FileIdStore,
        provider: Any,
        execution_log: ExecutionLog,
        data_dir: Path,
        options: KernelOptions,
        log: logging.Logger,
    ) -> None:
        self.kernel_manager = kernel_manager
        self.contents_manager = contents_manager
        self.rooms = rooms
        self.file_ids = file_ids
        self.provider = provider
        self.execution_log = execution_log
        self.options = options
        self.log = log
        self.registry = KernelRegistry(data_dir / "kernels" / "running", log)
        self.spool = StreamSpool(data_dir / "kernels" / "streams")
        self.notebooks: dict[str, NotebookKernel] = {}  # file id → kernel
        self.by_kernel: dict[str, NotebookKernel] = {}
        self.owners: dict[str, Caller] = {}  # kernel id → who started it
        self.lost: set[str] = set()  # file ids whose kernel died with the server
        self._locks: dict[str, asyncio.Lock] = {}
        self._starting: dict[str, int] = {}  # username → kernel starts under way
        self._adapters: dict[str, RoomAdapter] = {}
        self._loop_task: asyncio.Task[None] | None = None
        # Called with every finished run and the cell's position among the code cells (the
        # gallery's health formula reads them); declared here so features subscribe in one line.
        self.execution_listeners: list[Callable[[ExecutionRecord, int | None], None]] = []
        # Where code in a kernel reaches this server (``COLLAB_SERVER_URL``, read by
        # ``collab_server.client``); asked at each start: the port is known only once bound.
        self.server_url: Callable[[], str] | None = None

    async def kernel_env(self, caller: Caller) -> dict[str, str]:
        """The environment of a kernel ``caller`` starts: the server's own without what looks
        like a secret (:mod:`.environment`), this server's URL, then the provider's
        ``kernel_env`` (which may override both)."""
        url = self.server_url() if self.server_url is not None else ""
        return {
            **inherited_environment(os.environ, self.options.env_drop, self.options.env_keep),
            **({"COLLAB_SERVER_URL": url} if url else {}),
            **await kernel_env_of(self.provider, caller.token),
        }

    def add_execution_listener(
        self, listener: Callable[[ExecutionRecord, int | None], None]
    ) -> None:
        self.execution_listeners.append(listener)

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Clean up after a crash, then watch kernels (shut down elsewhere, idle)."""
        for entry in self.registry.reap_orphans():
            if entry.file_id:
                self.lost.add(entry.file_id)
        for file_id in list(self.lost):
            await self._reset_running_cells(file_id)
        self._loop_task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        """Shut down every notebook kernel (server shutdown); their cells go back to idle."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
        for nk in list(self.notebooks.values()):
            await self.shutdown(nk, now=True)

    async def _reset_running_cells(self, file_id: str) -> None:
        room = self.room_of(file_id)
        try:
            await room.open()
        except Exception:
            return  # the notebook is gone

        def reset(doc: Any) -> None:
            cells.reset_running(doc)

        room.apply_server_change("kernel", reset)

    # --- lookups ------------------------------------------------------------------------------

    def path_of(self, file_id: str) -> str | None:
        return self.file_ids.get_path(file_id)

    def kernel_path(self, kernel_id: str) -> str | None:
        """The notebook a kernel belongs to (for authorization), or ``None``."""
        nk = self.by_kernel.get(kernel_id)
        return self.path_of(nk.file_id) if nk is not None else None

    def room_of(self, file_id: str) -> RoomAdapter:
        adapter = self._adapters.get(file_id)
        if adapter is None:
            adapter = RoomAdapter(self.rooms, file_id, lambda: self.path_of(file_id), self.log)
            self._adapters[file_id] = adapter
        return adapter

    def display_name_of(self, kernel_name: str) -> str:
        try:
            spec = self.kernel_manager.kernel_spec_manager.get_kernel_spec(kernel_name)
            return str(spec.display_name)
        except Exception:
            return kernel_name

    def state_message(self, file_id: str) -> dict[str, Any]:
        """The self-contained transient state of a notebook's kernel (RAW message / REST)."""
        nk = self.notebooks.get(file_id)
        if nk is not None:
            body = nk.snapshot()
        else:
            body = {
                "state": "lost" if file_id in self.lost else "none",
                "kernel": None,
                "cells": [],
                "input": None,
            }
        return {
            "type": "kernel",
            "document_id": f"json:notebook:{file_id}",
            "path": self.path_of(file_id),
            **body,
            "now": _now_iso(),
        }

    # --- starting -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _admit(self, username: str) -> Iterator[None]:
        """Check the limits and count this start as running until it is done (two starts
        at once cannot both take the last place)."""
        self.check_limits(username)
        self._starting[username] = self._starting.get(username, 0) + 1
        try:
            yield
        finally:
            self._starting[username] -= 1
            if not self._starting[username]:
                del self._starting[username]

    def check_limits(self, username: str) -> None:
        running = set(self.kernel_manager.list_kernel_ids())
        starting = sum(self._starting.values())
        if self.options.max_kernels and len(running) + starting >= self.options.max_kernels:
            raise KernelLimit(
                f"The server already runs its maximum of {self.options.max_kernels} kernels; "
                "try again when one is shut down"
            )
        mine = [k for k, who in self.owners.items() if k in running and who.username == username]
        limit = self.options.max_kernels_per_user
        if limit and len(mine) + self._starting.get(username, 0) >= limit:
            raise KernelLimit(
                f"You already run {len(mine)} kernels, the most one person may; shut one down first"
            )

    async def start_plain_kernel(self, caller: Caller, kernel_name: str | None, **kw: Any) -> str:
        """A kernel of no notebook (``POST /api/kernels``): limits and environment apply."""
        with self._admit(caller.username):
            env = await self.kernel_env(caller)
            kernel_id = await ensure_async(
                self.kernel_manager.start_kernel(kernel_name=kernel_name, env=env, **kw)
            )
        self.owners[kernel_id] = Caller(caller.username, caller.display_name)
        self._register(str(kernel_id), "")
        return str(kernel_id)

    def _register(self, kernel_id: str, file_id: str) -> None:
        # Recorded on disk so a crash of the server leaves no kernel nobody can reach.
        km = self.kernel_manager.get_kernel(kernel_id)
        provisioner = getattr(km, "provisioner", None)
        pid = getattr(provisioner, "pid", None) or getattr(
            getattr(provisioner, "process", None), "pid", None
        )
        owner = self.owners.get(kernel_id)
        self.registry.add(
            KernelEntry(
                kernel_id,
                int(pid or 0),
                str(km.connection_file),
                file_id,
                owner.username if owner is not None else "",
            )
        )

    async def ensure_kernel(
        self, path: str, kernel_name: str | None, caller: Caller
    ) -> NotebookKernel:
        """The notebook's kernel, started (by ``caller``) if it has none."""
        file_id, _ = self.file_ids.index(path)
        lock = self._locks.setdefault(file_id, asyncio.Lock())
        async with lock:
            nk = self.notebooks.get(file_id)
            if nk is not None and nk.kernel_id in self.kernel_manager:
                return nk
            if nk is not None:
                await self._detach(nk)
            with self._admit(caller.username):
                env = {**await self.kernel_env(caller), "JPY_SESSION_NAME": path}
                kernel_path = await ensure_async(self.contents_manager.get_kernel_path(path=path))
                kernel_id = await ensure_async(
                    self.kernel_manager.start_kernel(
                        kernel_name=kernel_name or self.kernel_manager.default_kernel_name,
                        path=kernel_path,
                        env=env,
                    )
                )
            self.owners[kernel_id] = Caller(caller.username, caller.display_name)
            return await self._attach(file_id, str(kernel_id))

    async def adopt(self, kernel_id: str, file_id: str, caller: Caller) -> NotebookKernel:
        """A running kernel of no notebook becomes this notebook's kernel (JupyterLab may
        start the kernel first and run a cell of the notebook with it)."""
        lock = self._locks.setdefault(file_id, asyncio.Lock())
        async with lock:
            nk = self.by_kernel.get(kernel_id)
            if nk is not None:
                return nk
            current = self.notebooks.get(file_id)
            if current is not None and current.kernel_id in self.kernel_manager:
                raise KernelProblem(
                    409, "This notebook already has a kernel; run its cells with that kernel"
                )
            if current is not None:
                await self._detach(current)
            self.owners.setdefault(kernel_id, Caller(caller.username, caller.display_name))
            return await self._attach(file_id, kernel_id)

    async def _attach(self, file_id: str, kernel_id: str) -> NotebookKernel:
        km = self.kernel_manager.get_kernel(kernel_id)
        owner = self.owners.get(kernel_id) or Caller("", "")
        nk = NotebookKernel(
            self, file_id, kernel_id, str(km.kernel_name), owner, self.room_of(file_id)
        )
        self._register(kernel_id, file_id)
        mkm = self.kernel_manager
        executor = Executor(
            km,
            nk,
            lambda cell_id: self._source_of(file_id, cell_id),
            kernel_id=kernel_id,
            file_id=file_id,
            path=self.path_of(file_id) or "",
            log=self.execution_log,
            spool=self.spool,
            max_stream_chars=self.options.max_stream_chars,
            max_outputs=self.options.max_outputs,
            max_output_rate=self.options.max_output_rate,
            interrupt_kernel=lambda: ensure_async(mkm.interrupt_kernel(kernel_id)),
            restart_kernel=lambda now: ensure_async(mkm.restart_kernel(kernel_id, now=now)),
        )
        nk.executor = executor
        self.notebooks[file_id] = nk
        self.by_kernel[kernel_id] = nk
        self.lost.discard(file_id)
        nk.push()
        try:
            await executor.start()
        except Exception:
            self.log.exception("Kernel %s did not start", kernel_id)
            await self.shutdown(nk, now=True)
            raise KernelProblem(500, "The kernel did not start; see the server log") from None
        return nk

    def _source_of(self, file_id: str, cell_id: str) -> str | None:
        doc = self.room_of(file_id).doc
        return cells.code_source(doc, cell_id) if doc is not None else None

    # --- running ------------------------------------------------------------------------------

    async def execute(
        self, nk: NotebookKernel, request: ExecuteRequest, caller: Caller
    ) -> list[asyncio.Future[ExecutionRecord]]:
        """Check the request against the document and queue its cells (one batch)."""
        assert nk.executor is not None
        await nk.hold()
        doc = nk.room.doc
        if doc is None:
            raise KernelProblem(503, "The notebook could not be opened; try again")
        try:
            check_fresh(request, cells.code_sources(doc))
        except UnknownCell as e:
            nk.update_hold()
            raise KernelProblem(404, str(e)) from None
        except StaleSource as e:
            nk.update_hold()
            raise KernelProblem(409, str(e)) from None
        if nk.state in ("dead",):
            nk.update_hold()
            raise KernelProblem(409, "The kernel is dead; restart it to run cells")
        nk.names[caller.username] = caller.display_name
        # The log names the notebook as it is called now (it may have been renamed).
        nk.executor.path = self.path_of(nk.file_id) or nk.executor.path
        futures = nk.executor.submit([ref.cell_id for ref in request.cells], caller.username)
        nk.update_hold()
        return futures

    async def interrupt(self, nk: NotebookKernel) -> None:
        assert nk.executor is not None
        await nk.executor.interrupt()

    async def restart(self, nk: NotebookKernel) -> None:
        assert nk.executor is not None
        await nk.executor.restart()

    def reply_input(self, nk: NotebookKernel, value: str) -> bool:
        return nk.executor is not None and nk.executor.reply_input(value)

    # --- ending -------------------------------------------------------------------------------

    async def _detach(self, nk: NotebookKernel) -> None:
        """Forget a kernel (shut down, culled, gone): its cells go back to idle."""
        if self.notebooks.get(nk.file_id) is nk:
            del self.notebooks[nk.file_id]
        self.by_kernel.pop(nk.kernel_id, None)
        if nk.executor is not None:
            with contextlib.suppress(Exception):
                await nk.executor.stop()
        self.registry.remove(nk.kernel_id)
        await nk.release()
        nk.room.send_raw(self.state_message(nk.file_id))

    async def shutdown(self, nk: NotebookKernel, now: bool = False) -> None:
        await self._detach(nk)
        if nk.kernel_id in self.kernel_manager:
            with contextlib.suppress(Exception):
                await ensure_async(self.kernel_manager.shutdown_kernel(nk.kernel_id, now=now))
        self.owners.pop(nk.kernel_id, None)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.options.check_interval)
            try:
                await self._check()
            except Exception:
                self.log.exception("Checking kernels failed")

    async def _check(self) -> None:
        running = set(self.kernel_manager.list_kernel_ids())
        for kernel_id in list(self.owners):
            if kernel_id not in running and kernel_id not in self.by_kernel:
                self.owners.pop(kernel_id, None)
                self.registry.remove(kernel_id)
        now = time.monotonic()
        for nk in list(self.notebooks.values()):
            if nk.kernel_id not in running:
                self.log.info("Kernel %s was shut down elsewhere", nk.kernel_id)
                await self._detach(nk)
                continue
            if nk.busy or nk.room.has_clients():
                nk.last_activity = now
                continue
            if now - nk.last_activity >= self.options.cull_idle_seconds:
                self.log.info("Culling idle kernel %s (nobody in its notebook)", nk.kernel_id)
                await self.shutdown(nk)
