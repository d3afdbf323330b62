"""Runs one kernel's execution queue on a real kernel, and reports what happens to a sink.

This module owns the conversation with one started kernel through jupyter_client:

- its own ``AsyncKernelClient`` with a *fresh* session, built from the manager's connection
  info: the manager's ``client()`` clones the manager's session, so its shell socket would
  share a ZMQ identity with the kernel websocket's client and replies could reach the wrong
  one (jupyter-server-documents builds its client apart for the same reason);
- exactly one reader per channel (iopub, shell, stdin) routing every message by
  ``parent_header.msg_id`` to the run that caused it (jupyter_client's
  ``execute_interactive`` drops messages of other requests, so it cannot be shared);
- the queue (``queue``): one cell at a time, in order; interrupt, restart, kernel death;
- outputs (``outputs``) batched per cell (``coalesce``) and handed to the sink as small
  changes; long stream text spooled (``spool``) so it stays downloadable;
- ``input()``: a pending prompt anyone may answer later with :meth:`Executor.reply_input`;
- the execution log (``log``), one row per run or dropped cell.

The sink is the room integration: it writes outputs and execution counts into the shared
document and publishes transient state (kernel status, queued/running cells, prompts). Its
methods are called from the event loop, synchronously, in the order events happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_core.utils import ensure_async

from collab_server.kernels.coalesce import DEFAULT_INTERVAL, DEFAULT_MAX_RATE, Coalescer
from collab_server.kernels.log import ExecutionLog, ExecutionRecord, Status, iso
from collab_server.kernels.outputs import (
    DEFAULT_MAX_OUTPUTS,
    DEFAULT_MAX_STREAM_CHARS,
    CellOutputs,
    OutputChange,
)
from collab_server.kernels.queue import ExecutionQueue, QueuedCell
from collab_server.kernels.requests import source_sha256
from collab_server.kernels.spool import SpoolFile, StreamSpool

logger = logging.getLogger(__name__)

CellState = Literal["queued", "running", "idle"]
#: ``starting``, ``idle``, ``busy`` (from the kernel), ``restarting``, ``dead``.
KernelState = str

#: How many cells' outputs are kept so later runs can update their displays in place.
MAX_DISPLAY_CELLS = 200

#: ename reported on the running cell when the kernel process dies under it.
DEAD_KERNEL = "DeadKernelError"


class KernelSink(Protocol):
    """What the executor reports; the room integration implements it.

    Every method is called on the event loop, synchronously, in event order; an exception
    raised by a method is logged and does not stop the executor.
    """

    def on_status(self, state: KernelState) -> None:
        """The kernel's state changed (``starting|idle|busy|restarting|dead``)."""

    def on_cell_state(
        self, cell_id: str, state: CellState, who: str | None, since: datetime | None
    ) -> None:
        """A cell was queued (by ``who``, at ``since``), started running, or went back to
        idle (``who`` and ``since`` are then ``None``). Transient state: never written into
        the notebook."""

    def on_outputs(self, cell_id: str, changes: Sequence[OutputChange]) -> None:
        """Apply these changes to the cell's ``outputs``, in order, as one transaction.
        A run begins with :class:`~collab_server.kernels.outputs.ClearOutputs`."""

    def on_execution_count(self, cell_id: str, count: int | None) -> None:
        """Set the cell's ``execution_count`` (``None`` when a run starts)."""

    def on_input_request(self, cell_id: str, prompt: str, password: bool) -> None:
        """The running cell waits for ``input()``; show the prompt to whoever may run code."""

    def on_input_done(self, cell_id: str) -> None:
        """The pending prompt was answered, or the run ended without an answer."""

    def on_done(self, record: ExecutionRecord) -> None:
        """A run ended, or a queued cell left the queue without running (``aborted``)."""


@dataclass
class _Run:
    item: QueuedCell
    source: str
    outputs: CellOutputs
    started_at: datetime
    msg_id: str = ""
    reply: dict[str, Any] | None = None
    idle: bool = False
    execution_count: int | None = None
    # Set when the executor, not the kernel, ended the run: the ename to report ("" for none).
    aborted_as: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    raw: list[str] = field(default_factory=list)
    raw_chars: int = 0
    spool: SpoolFile | None = None
    spool_key: str | None = None
    prompt: str = ""
    password: bool = False

    def check_done(self) -> None:
        if self.aborted_as is not None or (self.reply is not None and self.idle):
            self.done.set()


class KernelNotReady(RuntimeError):
    """The kernel did not answer ``kernel_info`` in time."""


class Executor:
    """The execution machinery of one started kernel.

    ``km`` is a started kernel manager, asynchronous or not (e.g. the one jupyter_server's
    ``MultiKernelManager`` holds for the kernel); ``source_of(cell_id)`` reads the cell's
    current source from the shared document when the cell starts (``None``: the cell is
    gone, it is skipped).
    """

    def __init__(
        self,
        km: Any,
        sink: KernelSink,
        source_of: Callable[[str], str | None],
        *,
        kernel_id: str = "",
        file_id: str = "",
        path: str = "",
        log: ExecutionLog | None = None,
        spool: StreamSpool | None = None,
        max_stream_chars: int = DEFAULT_MAX_STREAM_CHARS,
        max_outputs: int = DEFAULT_MAX_OUTPUTS,
        interrupt_kernel: Callable[[], Awaitable[Any]] | None = None,
        restart_kernel: Callable[[bool], Awaitable[Any]] | None = None,
        coalesce_interval: float = DEFAULT_INTERVAL,
        max_output_rate: float = DEFAULT_MAX_RATE,
        alive_poll_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.km = km
        self.sink = sink
        self.source_of = source_of
        self.kernel_id = kernel_id
        self.file_id = file_id
        self.path = path  # the owner updates it when the notebook is renamed
        self.log = log
        self.spool = spool
        self.max_stream_chars = max_stream_chars
        self.max_outputs = max_outputs
        # jupyter_server's MultiKernelManager has its own interrupt/restart (bookkeeping,
        # websocket notices): the owner passes them; by default the manager's are used.
        self._interrupt_kernel = interrupt_kernel or (
            lambda: ensure_async(self.km.interrupt_kernel())
        )
        self._restart_kernel = restart_kernel or (
            lambda now: ensure_async(self.km.restart_kernel(now=now))
        )
        self.alive_poll_interval = alive_poll_interval
        self.clock = clock
        self.now = now
        self.queue = ExecutionQueue()
        self.state: KernelState = "starting"
        self._coalescer = Coalescer(coalesce_interval, max_rate=max_output_rate)
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake_runner = asyncio.Event()
        self._wake_flusher = asyncio.Event()
        self._runs: dict[str, _Run] = {}  # msg_id → run in progress
        self._running: _Run | None = None
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}  # shell replies
        self._iopub_seen: dict[str, asyncio.Event] = {}
        # One future per queued item (a running cell may be queued again: two items).
        self._futures: dict[QueuedCell, asyncio.Future[ExecutionRecord]] = {}
        # Outputs of the latest run of cells that show a display id, so an
        # update_display_data from any later run updates them in place.
        self._displays: dict[str, CellOutputs] = {}
        self._input_for: _Run | None = None

    # --- life cycle ---------------------------------------------------------------------------

    async def _stdin_connected(self, client: _Client, timeout: float) -> None:
        """Wait until the stdin socket's handshake with the kernel is done. The kernel sends
        an ``input()`` prompt to stdin by the shell client's identity, and a ROUTER drops a
        message for a peer it has not met yet: on a busy machine the first cell's prompt
        could be lost, the cell left waiting forever. A shell reply proves only shell."""
        monitor = client.stdin_handshake
        if monitor is None:
            return
        try:
            await asyncio.wait_for(monitor.recv_multipart(), timeout)
        except TimeoutError:
            logger.warning("kernel %s: stdin did not connect in %.0f s", self.kernel_id, timeout)
        finally:
            with contextlib.suppress(zmq.ZMQError):
                client.stdin_channel.socket.disable_monitor()
            monitor.close(linger=0)
            client.stdin_handshake = None

    async def start(self, timeout: float = 60.0) -> None:
        """Connect to the kernel and wait until shell and iopub both answer."""
        # An asyncio client whatever the manager's own client class is (a blocking client
        # cannot be read from the event loop); its Session is new, only the key is shared.
        client = _Client()
        client.load_connection_info(self.km.get_connection_info(session=False))
        client.start_channels(shell=True, iopub=True, stdin=True, hb=False, control=False)
        self._client = client
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read("iopub", client.get_iopub_msg, self._on_iopub)),
            loop.create_task(self._read("shell", client.get_shell_msg, self._on_shell)),
            loop.create_task(self._read("stdin", client.get_stdin_msg, self._on_stdin)),
            loop.create_task(self._run_loop()),
            loop.create_task(self._flush_loop()),
            loop.create_task(self._watch_loop()),
        ]
        await self._wait_ready(timeout)
        await self._stdin_connected(client, min(timeout, 10.0))
        self._set_state("idle")

    async def stop(self) -> None:
        """Stop reading and running (the kernel itself is the manager's to shut down).
        Held outputs are written; the running and waiting cells are reported idle."""
        self._abort_all("")
        for _ in range(100):
            # Let the runner report the run it was waiting on (its done event is set).
            if self._running is None:
                break
            await asyncio.sleep(0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._flush_all()
        if self._client is not None:
            self._client.stop_channels()
            self._client = None

    # --- requests -----------------------------------------------------------------------------

    def submit(self, cell_ids: Sequence[str], who: str) -> list[asyncio.Future[ExecutionRecord]]:
        """Queue cells as one batch (run in order, never interleaved with others' cells).

        Returns, for each cell id, a future resolved with its record when the cell has run
        or left the queue; a cell already waiting keeps its place and its future."""
        when = self.now()
        added = self.queue.enqueue(cell_ids, who, when)
        loop = asyncio.get_running_loop()
        for item in added:
            self._futures[item] = loop.create_future()
            self._emit("on_cell_state", item.cell_id, "queued", who, when)
        self._wake_runner.set()
        waiting = {item.cell_id: self._futures[item] for item in self.queue.pending}
        return [waiting[cell_id] for cell_id in cell_ids]

    async def interrupt(self) -> None:
        """Drain the queue, then interrupt the kernel (the running cell ends with an error)."""
        self._drop(self.queue.drain())
        await self._interrupt_kernel()

    async def restart(self) -> None:
        """Drain the queue, reset the running cell, restart the kernel and wait for it."""
        running, drained = self.queue.reset()
        self._drop(drained)
        run = self._running
        if run is not None:
            run.aborted_as = ""
            run.check_done()
        self._set_state("restarting")
        try:
            # A busy kernel would make a polite shutdown wait its full timeout.
            await self._restart_kernel(running is not None)
            await self._wait_ready(60.0)
        except BaseException:
            # Never stuck in "restarting": the watch loop takes over from "dead".
            self._set_state("dead")
            raise
        self._set_state("idle")
        self._wake_runner.set()

    def reply_input(self, value: str) -> bool:
        """Answer the pending ``input()`` prompt; ``False`` when there is none."""
        run = self._input_for
        if run is None or self._client is None:
            return False
        self._input_for = None
        self._client.input(value)
        # As JupyterLab does: the answered prompt stays visible as a "stdin" stream (never
        # merged with stdout), a password masked.
        shown = "········" if run.password else value
        echo = {"name": "stdin", "text": f"{run.prompt}{shown}\n"}
        self._push(run.item.cell_id, run.outputs.apply("stream", echo))
        self._emit("on_input_done", run.item.cell_id)
        return True

    @property
    def pending_input(self) -> tuple[str, str, bool] | None:
        """``(cell_id, prompt, password)`` of the prompt waiting for an answer, if any."""
        run = self._input_for
        if run is None:
            return None
        return run.item.cell_id, run.prompt, run.password

    def forget_outputs(self, cell_id: str) -> None:
        """The cell's outputs were changed by someone else (cleared, cell deleted): stop
        updating its displays in place."""
        self._displays.pop(cell_id, None)

    # --- readers ------------------------------------------------------------------------------

    async def _read(
        self, name: str, get: Callable[[], Any], handle: Callable[[dict[str, Any]], None]
    ) -> None:
        while True:
            try:
                msg = await get()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A malformed or unsigned message: log it and keep reading (after a pause, so
                # a broken socket cannot spin the event loop).
                logger.exception("kernel %s: could not read a %s message", self.kernel_id, name)
                await asyncio.sleep(0.1)
                continue
            try:
                handle(msg)
            except Exception:
                logger.exception("kernel %s: could not handle a %s message", self.kernel_id, name)

    def _on_iopub(self, msg: dict[str, Any]) -> None:
        parent = (msg.get("parent_header") or {}).get("msg_id", "")
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type", "")
        content = msg.get("content") or {}
        seen = self._iopub_seen.get(parent)
        if seen is not None:
            seen.set()
        if msg_type == "status":
            state = content.get("execution_state")
            if isinstance(state, str) and self.state not in ("restarting", "dead"):
                self._set_state(state)
        run = self._runs.get(parent)
        if msg_type == "update_display_data":
            self._update_displays(content)
            return
        if run is None:
            return  # another client's request on the same kernel
        if msg_type == "status" and content.get("execution_state") == "idle":
            run.idle = True
            run.check_done()
        elif msg_type == "execute_input":
            count = content.get("execution_count")
            if isinstance(count, int):
                run.execution_count = count
                self._emit("on_execution_count", run.item.cell_id, count)
        elif msg_type in ("stream", "display_data", "execute_result", "error", "clear_output"):
            if msg_type == "stream":
                self._keep_raw(run, str(content.get("text", "")))
            self._push(run.item.cell_id, run.outputs.apply(msg_type, content))
            if run.outputs.display_ids and run.item.cell_id not in self._displays:
                self._displays[run.item.cell_id] = run.outputs
                while len(self._displays) > MAX_DISPLAY_CELLS:
                    # Bounded memory: the oldest cells' displays stop updating in place.
                    del self._displays[next(iter(self._displays))]

    def _on_shell(self, msg: dict[str, Any]) -> None:
        parent = (msg.get("parent_header") or {}).get("msg_id", "")
        waiter = self._waiters.pop(parent, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(msg)
        run = self._runs.get(parent)
        if run is not None and msg.get("msg_type") == "execute_reply":
            run.reply = msg.get("content") or {}
            run.check_done()

    def _on_stdin(self, msg: dict[str, Any]) -> None:
        parent = (msg.get("parent_header") or {}).get("msg_id", "")
        run = self._runs.get(parent)
        if run is None or msg.get("msg_type") != "input_request":
            return
        content = msg.get("content") or {}
        run.prompt = str(content.get("prompt", ""))
        run.password = bool(content.get("password", False))
        self._input_for = run
        self._emit("on_input_request", run.item.cell_id, run.prompt, run.password)

    # --- running ------------------------------------------------------------------------------

    async def _run_loop(self) -> None:
        while True:
            await self._wake_runner.wait()
            self._wake_runner.clear()
            while self.state not in ("restarting", "dead"):
                item = self.queue.start_next()
                if item is None:
                    break
                await self._run_one(item)

    async def _run_one(self, item: QueuedCell) -> None:
        source = self.source_of(item.cell_id)
        started = self.now()
        if source is None:
            # The cell was deleted while it waited: nothing to run, the batch goes on.
            self.queue.finish(failed=False)
            self._finish_item(item, None, None, "aborted", None, None, None)
            return
        outputs = CellOutputs(self.max_stream_chars, max_outputs=self.max_outputs)
        run = _Run(item, source, outputs, started)
        self._running = run
        self._displays.pop(item.cell_id, None)
        self._emit("on_cell_state", item.cell_id, "running", item.who, started)
        self._emit("on_execution_count", item.cell_id, None)
        self._push(item.cell_id, run.outputs.reset())
        run.msg_id = self._client.execute(
            source, store_history=True, allow_stdin=True, stop_on_error=False
        )
        self._runs[run.msg_id] = run
        try:
            await run.done.wait()
        finally:
            self._runs.pop(run.msg_id, None)
            self._running = None
        if self._input_for is run:
            self._input_for = None
            self._emit("on_input_done", item.cell_id)
        reply = run.reply or {}
        status: Status = "aborted"
        ename: str | None = None
        if run.aborted_as is not None:
            ename = run.aborted_as or None
        elif reply.get("status") == "ok":
            status = "ok"
        elif reply.get("status") == "error":
            status = "error"
            ename = str(reply.get("ename", "")) or None
        count = reply.get("execution_count", run.execution_count)
        if isinstance(count, int) and count != run.execution_count:
            self._emit("on_execution_count", item.cell_id, count)
        if self.queue.running is item:
            _, dropped = self.queue.finish(failed=status != "ok")
        else:
            dropped = []  # restart or death already reset the queue
        if run.spool is not None:
            run.spool.close()
        self._finish_item(
            item,
            source,
            started,
            status,
            ename,
            count if isinstance(count, int) else None,
            run.spool_key,
        )
        self._drop(dropped)

    def _finish_item(
        self,
        item: QueuedCell,
        source: str | None,
        started: datetime | None,
        status: Status,
        ename: str | None,
        count: int | None,
        spool_key: str | None,
    ) -> None:
        # Everything the run caused (its outputs, displays it updated in other cells) is
        # written before the run is reported done.
        self._flush_all()
        record = ExecutionRecord(
            file_id=self.file_id,
            path=self.path,
            cell_id=item.cell_id,
            source_sha256=source_sha256(source) if source is not None else None,
            who=item.who,
            kernel_id=self.kernel_id,
            queued_at=iso(item.queued_at),
            started_at=iso(started) if started is not None else None,
            ended_at=iso(self.now()),
            status=status,
            ename=ename,
            execution_count=count,
            spool_key=spool_key,
        )
        if not self.queue.is_waiting(item.cell_id):
            self._emit("on_cell_state", item.cell_id, "idle", None, None)
        if self.log is not None:
            try:
                self.log.add([record])
            except Exception:
                logger.exception("kernel %s: could not log an execution", self.kernel_id)
        self._emit("on_done", record)
        future = self._futures.pop(item, None)
        if future is not None and not future.done():
            future.set_result(record)

    def _drop(self, items: Sequence[QueuedCell]) -> None:
        for item in items:
            self._finish_item(item, None, None, "aborted", None, None, None)

    def _abort_all(self, ename: str) -> None:
        # The running cell ends as ``aborted`` (with ``ename`` when not empty).
        _, drained = self.queue.reset()
        self._drop(drained)
        run = self._running
        if run is not None:
            run.aborted_as = ename
            run.check_done()

    # --- kernel state -------------------------------------------------------------------------

    async def _wait_ready(self, timeout: float) -> None:
        # kernel_info until its reply arrives on shell *and* its status on iopub: a
        # subscriber that has not connected yet would lose the first cell's outputs.
        deadline = self.clock() + timeout
        loop = asyncio.get_running_loop()
        while self.clock() < deadline:
            msg_id = self._client.kernel_info()
            reply: asyncio.Future[dict[str, Any]] = loop.create_future()
            seen = asyncio.Event()
            self._waiters[msg_id] = reply
            self._iopub_seen[msg_id] = seen
            try:
                await asyncio.wait_for(reply, 1.0)
                await asyncio.wait_for(seen.wait(), 0.5)
                return
            except TimeoutError:
                continue
            finally:
                self._waiters.pop(msg_id, None)
                self._iopub_seen.pop(msg_id, None)
        raise KernelNotReady(f"kernel {self.kernel_id} did not answer in {timeout:.0f} s")

    async def _watch_loop(self) -> None:
        # The kernel process can die under a running cell (out of memory, os._exit): no reply
        # and no idle status will come, so poll the process.
        while True:
            await asyncio.sleep(self.alive_poll_interval)
            if self.state == "restarting":
                continue
            alive = await ensure_async(self.km.is_alive())
            if alive and self.state == "dead":
                # Restarted by its manager (jupyter_server's auto-restart): wait until it
                # answers on shell and iopub, then run what gets queued again.
                try:
                    await self._wait_ready(10.0)
                except KernelNotReady:
                    continue
                self._set_state("idle")
                self._wake_runner.set()
            elif not alive and self.state != "dead":
                self._set_state("dead")
                run = self._running
                if run is not None:
                    self._push(
                        run.item.cell_id,
                        run.outputs.apply(
                            "error",
                            {
                                "ename": DEAD_KERNEL,
                                "evalue": "The kernel died while this cell was running.",
                                "traceback": [],
                            },
                        ),
                    )
                self._abort_all(DEAD_KERNEL)

    def _set_state(self, state: KernelState) -> None:
        if state != self.state:
            self.state = state
            self._emit("on_status", state)

    # --- outputs ------------------------------------------------------------------------------

    def _update_displays(self, content: dict[str, Any]) -> None:
        transient = content.get("transient") or {}
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        if not isinstance(display_id, str):
            return
        for cell_id, outputs in list(self._displays.items()):
            if display_id in outputs.display_ids:
                self._push(cell_id, outputs.update_display(display_id, content))

    def _keep_raw(self, run: _Run, text: str) -> None:
        if self.spool is None:
            return
        if run.spool is not None:
            run.spool.append(text)
            return
        run.raw.append(text)
        run.raw_chars += len(text)
        if run.raw_chars > self.max_stream_chars:
            # Long enough to be capped in the document: keep the full text on disk.
            run.spool_key = uuid.uuid4().hex
            run.spool = self.spool.open(run.spool_key)
            for part in run.raw:
                run.spool.append(part)
            run.raw.clear()

    def _push(self, cell_id: str, changes: list[OutputChange]) -> None:
        # The flusher looks again only when a batch became due sooner (not on every
        # message of a flood).
        if changes and self._coalescer.push(cell_id, changes, self.clock()):
            self._wake_flusher.set()

    async def _flush_loop(self) -> None:
        while True:
            self._wake_flusher.clear()
            deadline = self._coalescer.next_deadline()
            if deadline is None:
                await self._wake_flusher.wait()
                continue
            delay = deadline - self.clock()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_flusher.wait(), delay)
                continue
            # Emitted at once, with no await in between: a run ending meanwhile flushes its
            # cell's newer changes, which must never land before these.
            for cell_id, changes in self._coalescer.take(self.clock()):
                self._emit("on_outputs", cell_id, changes)

    def _flush_all(self) -> None:
        for cell_id, changes in self._coalescer.take_all():
            self._emit("on_outputs", cell_id, changes)

    def _emit(self, method: str, *args: Any) -> None:
        try:
            getattr(self.sink, method)(*args)
        except Exception:
            logger.exception("kernel %s: the sink failed in %s", self.kernel_id, method)


class _Client(AsyncKernelClient):
    """jupyter_client's asyncio client whose stdin socket is watched from before it connects
    (``stdin_handshake``: a monitor socket that gets the handshake's event)."""

    stdin_handshake: Any = None

    def connect_stdin(self, identity: bytes | None = None) -> Any:
        sock = self.context.socket(zmq.DEALER)
        sock.linger = 1000
        if identity:
            sock.identity = identity
        if getattr(self, "curve_publickey", None) is not None:  # as jupyter_client does
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        self.stdin_handshake = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        sock.connect(self._make_url("stdin"))
        return sock
