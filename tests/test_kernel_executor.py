"""The executor on real ipykernel kernels: outputs, queue rules, interrupt, restart, input,
displays, a kernel dying mid-run, the execution log and the spool."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.manager import AsyncKernelManager, KernelManager

from collab_server.core.db import open_database
from collab_server.kernels.executor import DEAD_KERNEL, Executor
from collab_server.kernels.log import ExecutionLog, ExecutionRecord
from collab_server.kernels.outputs import AppendOutput, OutputChange, SpliceText, apply_changes
from collab_server.kernels.spool import StreamSpool

pytestmark = pytest.mark.timeout(60)


class RecordingSink:
    """A sink that keeps everything, mirrors outputs like the document would, and lets a test
    wait for a condition (woken on each event, never polling with sleeps)."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.outputs: dict[str, list[dict[str, Any]]] = {}
        self.counts: dict[str, int | None] = {}
        self.records: list[ExecutionRecord] = []
        self.prompts: list[tuple[str, str, bool]] = []
        self.statuses: list[str] = []
        self.batches = 0
        self.inserted = 0  # characters of text the batches inserted
        self._changed = asyncio.Event()

    def _note(self, *event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    def on_status(self, state: str) -> None:
        self.statuses.append(state)
        self._note("status", state)

    def on_cell_state(
        self, cell_id: str, state: str, who: str | None, since: datetime | None
    ) -> None:
        self._note("cell", cell_id, state, who)

    def on_outputs(self, cell_id: str, changes: Sequence[OutputChange]) -> None:
        self.batches += 1
        self.inserted += sum(len(c.insert) for c in changes if isinstance(c, SpliceText)) + sum(
            len(str(c.output.get("text", ""))) for c in changes if isinstance(c, AppendOutput)
        )
        apply_changes(self.outputs.setdefault(cell_id, []), changes)
        self._note("outputs", cell_id)

    def on_execution_count(self, cell_id: str, count: int | None) -> None:
        self.counts[cell_id] = count
        self._note("count", cell_id, count)

    def on_input_request(self, cell_id: str, prompt: str, password: bool) -> None:
        self.prompts.append((cell_id, prompt, password))
        self._note("input", cell_id, prompt)

    def on_input_done(self, cell_id: str) -> None:
        self._note("input_done", cell_id)

    def on_done(self, record: ExecutionRecord) -> None:
        self.records.append(record)
        self._note("done", record.cell_id)

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def record(self, cell_id: str) -> ExecutionRecord:
        return [r for r in self.records if r.cell_id == cell_id][-1]

    def text(self, cell_id: str, name: str = "stdout") -> str:
        return "".join(o["text"] for o in self.outputs.get(cell_id, []) if o.get("name") == name)

    def cell_states(self, cell_id: str) -> list[str]:
        return [e[2] for e in self.events if e[0] == "cell" and e[1] == cell_id]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    saved = {name: os.environ.get(name) for name in ("JUPYTER_RUNTIME_DIR", "IPYTHONDIR")}
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    os.environ["IPYTHONDIR"] = str(tmp_path_factory.mktemp("ipython"))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.asynccontextmanager
async def started_kernel() -> AsyncIterator[AsyncKernelManager]:
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    try:
        yield km
    finally:
        with contextlib.suppress(Exception):
            await km.shutdown_kernel(now=True)


def kernel_pid(km: AsyncKernelManager) -> int:
    return int(km.provisioner.process.pid)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
async def shared_km(kernel_env: None) -> AsyncIterator[AsyncKernelManager]:
    """One kernel for the tests that leave it usable."""
    async with started_kernel() as km:
        yield km


@pytest.fixture(scope="module")
async def spare_km(kernel_env: None) -> AsyncIterator[AsyncKernelManager]:
    """A second kernel for the tests that restart or kill theirs (and leave it restarted)."""
    async with started_kernel() as km:
        yield km


class Harness:
    def __init__(self, executor: Executor, sink: RecordingSink, sources: dict[str, str]):
        self.executor = executor
        self.sink = sink
        self.sources = sources

    async def run(self, cells: dict[str, str], who: str = "ann") -> list[ExecutionRecord]:
        self.sources.update(cells)
        futures = self.executor.submit(list(cells), who)
        return list(await asyncio.wait_for(asyncio.gather(*futures), 30))


@contextlib.asynccontextmanager
async def harness(km: AsyncKernelManager | KernelManager, **options: Any) -> AsyncIterator[Harness]:
    sink = RecordingSink()
    sources: dict[str, str] = {}
    executor = Executor(
        km, sink, sources.get, kernel_id="k1", file_id="f1", path="nb.ipynb", **options
    )
    await executor.start()
    try:
        yield Harness(executor, sink, sources)
    finally:
        await executor.stop()


async def test_print_to_stdout_and_stderr(shared_km: AsyncKernelManager, tmp_path: Path) -> None:
    log = ExecutionLog(open_database(tmp_path / "db.sqlite"))
    async with harness(shared_km, log=log) as h:
        code = "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n6 * 7"
        (record,) = await h.run({"c1": code})
        assert record.status == "ok" and record.ename is None
        outputs = h.sink.outputs["c1"]
        assert [o["output_type"] for o in outputs] == ["stream", "stream", "execute_result"]
        assert h.sink.text("c1") == "hello\n"
        assert h.sink.text("c1", "stderr") == "oops\n"
        assert outputs[2]["data"]["text/plain"] == "42"
        count = h.sink.counts["c1"]
        assert isinstance(count, int) and outputs[2]["execution_count"] == count
        assert h.sink.cell_states("c1") == ["queued", "running", "idle"]
        rows, cursor = log.for_notebook("f1")
        assert cursor is None and len(rows) == 1
        row = rows[0]
        assert (row["cell_id"], row["who"], row["status"], row["execution_count"]) == (
            "c1",
            "ann",
            "ok",
            count,
        )
        assert row["path"] == "nb.ipynb" and row["kernel_id"] == "k1"
        assert row["queued_at"] <= row["started_at"] <= row["ended_at"]
        assert len(row["source_sha256"]) == 64


async def test_a_progress_bar_with_carriage_returns(shared_km: AsyncKernelManager) -> None:
    async with harness(shared_km) as h:
        code = (
            "import time\n"
            "for i in range(0, 101, 10):\n"
            "    print(f'\\r{i:3d}%', end='', flush=True)\n"
            "    time.sleep(0.01)\n"
            "print(' done')"
        )
        await h.run({"bar": code})
        assert h.sink.outputs["bar"] == [
            {"output_type": "stream", "name": "stdout", "text": "100% done\n"}
        ]


async def test_a_rerun_clears_the_previous_outputs(shared_km: AsyncKernelManager) -> None:
    async with harness(shared_km) as h:
        await h.run({"again": "print('first')"})
        h.sources["again"] = "print('second')"
        await h.run({"again": "print('second')"})
        assert h.sink.text("again") == "second\n"


async def test_an_error_stops_the_rest_of_its_batch(
    shared_km: AsyncKernelManager, tmp_path: Path
) -> None:
    log = ExecutionLog(open_database(tmp_path / "db.sqlite"))
    async with harness(shared_km, log=log) as h:
        h.sources.update({"e1": "print(1)", "e2": "1/0", "e3": "print(3)", "other": "print(4)"})
        batch = h.executor.submit(["e1", "e2", "e3"], "ann")
        alone = h.executor.submit(["other"], "bob")
        records = await asyncio.wait_for(asyncio.gather(*batch, *alone), 30)
        assert [(r.cell_id, r.status) for r in records] == [
            ("e1", "ok"),
            ("e2", "error"),
            ("e3", "aborted"),
            ("other", "ok"),
        ]
        assert records[1].ename == "ZeroDivisionError"
        assert records[2].started_at is None
        assert "e3" not in h.sink.outputs
        assert h.sink.cell_states("e3") == ["queued", "idle"]
        assert h.sink.outputs["e2"][-1]["output_type"] == "error"
        assert h.sink.text("other") == "4\n"
        rows, _ = log.for_notebook("f1")
        assert [(r["cell_id"], r["who"], r["status"], r["ename"]) for r in reversed(rows)] == [
            ("e1", "ann", "ok", None),
            ("e2", "ann", "error", "ZeroDivisionError"),
            ("e3", "ann", "aborted", None),
            ("other", "bob", "ok", None),
        ]
        assert rows[1]["started_at"] is None and rows[1]["source_sha256"] is None


async def test_interrupt_ends_the_running_cell_and_drains_the_queue(
    shared_km: AsyncKernelManager,
) -> None:
    async with harness(shared_km) as h:
        h.sources.update(
            {
                "sleep": "import time\nprint('sleeping', flush=True)\ntime.sleep(30)",
                "after1": "print('after1')",
                "after2": "print('after2')",
            }
        )
        (sleeping,) = h.executor.submit(["sleep"], "ann")
        waiting = h.executor.submit(["after1", "after2"], "bob")
        # Barrier: the kernel is inside time.sleep once 'sleeping' has arrived.
        await h.sink.wait_for(lambda: "sleeping" in h.sink.text("sleep"))
        await h.executor.interrupt()
        record = await asyncio.wait_for(sleeping, 10)
        assert (record.status, record.ename) == ("error", "KeyboardInterrupt")
        dropped = await asyncio.wait_for(asyncio.gather(*waiting), 10)
        assert [(r.status, r.started_at) for r in dropped] == [("aborted", None)] * 2
        # A marker run afterwards: once it is done, the drained cells have still not run.
        (marker,) = await h.run({"marker": "print('marker')"})
        assert marker.status == "ok"
        assert "after1" not in h.sink.outputs and "after2" not in h.sink.outputs


async def test_input_is_answered_by_anyone_later(shared_km: AsyncKernelManager) -> None:
    async with harness(shared_km) as h:
        h.sources["ask"] = "name = input('Name? ')\nprint('hi', name)"
        (future,) = h.executor.submit(["ask"], "ann")
        await h.sink.wait_for(lambda: bool(h.sink.prompts))
        assert h.sink.prompts == [("ask", "Name? ", False)]
        assert h.executor.pending_input == ("ask", "Name? ", False)
        assert h.executor.reply_input("Bob")
        assert h.executor.pending_input is None
        assert not h.executor.reply_input("twice")
        record = await asyncio.wait_for(future, 10)
        assert record.status == "ok"
        assert h.sink.outputs["ask"] == [
            {"output_type": "stream", "name": "stdin", "text": "Name? Bob\n"},
            {"output_type": "stream", "name": "stdout", "text": "hi Bob\n"},
        ]
        assert ("input_done", "ask") in h.sink.events


async def test_a_display_is_updated_in_place_even_from_another_cell(
    shared_km: AsyncKernelManager,
) -> None:
    async with harness(shared_km) as h:
        code = (
            "from IPython.display import display\n"
            "h = display('v1', display_id=True)\n"
            "print('between')\n"
            "h.update('v2')"
        )
        await h.run({"show": code})
        outputs = h.sink.outputs["show"]
        assert [o["output_type"] for o in outputs] == ["display_data", "stream"]
        assert outputs[0]["data"]["text/plain"] == "'v2'"
        await h.run({"later": "h.update('v3')"})
        assert h.sink.outputs["show"][0]["data"]["text/plain"] == "'v3'"
        assert h.sink.outputs.get("later", []) == []


async def test_clear_output_wait_in_an_animation(shared_km: AsyncKernelManager) -> None:
    async with harness(shared_km) as h:
        code = (
            "from IPython.display import clear_output\n"
            "for i in range(20):\n"
            "    clear_output(wait=True)\n"
            "    print('frame', i, flush=True)"
        )
        await h.run({"anim": code})
        assert h.sink.outputs["anim"] == [
            {"output_type": "stream", "name": "stdout", "text": "frame 19\n"}
        ]


async def test_a_flood_is_coalesced_capped_and_spooled(
    shared_km: AsyncKernelManager, tmp_path: Path
) -> None:
    spool = StreamSpool(tmp_path / "spool")
    async with harness(shared_km, spool=spool, max_stream_chars=2000) as h:
        code = "for i in range(20000):\n    print(f'line {i:05d}', flush=i % 100 == 0)"
        (record,) = await h.run({"flood": code})
        text = h.sink.text("flood")
        assert len(text) < 2100
        assert text.startswith("line 00000\n")
        assert text.endswith("line 19999\n")
        assert "bytes truncated" in text
        # Hundreds of kernel messages, a handful of document writes.
        assert h.sink.batches < 60
        assert record.spool_key is not None
        full = spool.read(record.spool_key)
        assert full is not None
        assert full.decode() == "".join(f"line {i:05d}\n" for i in range(20000))


async def test_a_flood_past_the_cap_writes_its_tail_at_a_bounded_rate(
    shared_km: AsyncKernelManager,
) -> None:
    async with harness(shared_km, max_stream_chars=20_000, max_output_rate=50_000) as h:
        # About 1 MB/s for 2 s, in blocks of 100 lines of 100 characters.
        code = (
            "import sys, time\n"
            "for i in range(20):\n"
            "    sys.stdout.write(''.join(f'{i:03d} {j:03d} ' + 'x' * 91 + '\\n'"
            " for j in range(100)))\n"
            "    sys.stdout.flush()\n"
            "    time.sleep(0.1)"
        )
        (record,) = await h.run({"flood": code})
        assert record.status == "ok"
        text = h.sink.text("flood")
        assert text.startswith("000 000 ") and text.endswith("019 099 " + "x" * 91 + "\n")
        assert "bytes truncated" in text and len(text) < 20_100
        # 200,000 characters printed; what reached the document is the head, the tail as it
        # stood at each of a few batches, and the markers: at most about 50,000 a second.
        assert h.sink.inserted < 140_000
        assert h.sink.batches < 15


async def test_restart_resets_the_running_cell_and_the_kernel(
    spare_km: AsyncKernelManager,
) -> None:
    km = spare_km
    async with harness(km) as h:
        await h.run({"set": "x = 1"})
        h.sources.update(
            {"busy": "import time\nprint('busy', flush=True)\ntime.sleep(30)", "next": "x"}
        )
        (busy,) = h.executor.submit(["busy"], "ann")
        (queued,) = h.executor.submit(["next"], "bob")
        await h.sink.wait_for(lambda: "busy" in h.sink.text("busy"))
        await h.executor.restart()
        assert (await busy).status == "aborted"
        assert (await queued).status == "aborted"
        assert "restarting" in h.sink.statuses
        assert h.sink.cell_states("busy")[-1] == "idle"
        (after,) = await h.run({"check": "x"})
        assert (after.status, after.ename) == ("error", "NameError")
        assert after.execution_count == 1


async def test_a_kernel_killed_mid_run_is_reported_on_the_cell(
    spare_km: AsyncKernelManager,
) -> None:
    km = spare_km
    async with harness(km, alive_poll_interval=0.1) as h:
        pid = kernel_pid(km)
        code = "import os, signal\nprint('going', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)"
        h.sources.update({"die": code, "never": "print('never')"})
        (dying,) = h.executor.submit(["die"], "ann")
        (never,) = h.executor.submit(["never"], "bob")
        record = await asyncio.wait_for(dying, 10)
        assert (record.status, record.ename) == ("aborted", DEAD_KERNEL)
        assert (await never).status == "aborted"
        assert "dead" in h.sink.statuses
        outputs = h.sink.outputs["die"]
        assert outputs[-1]["output_type"] == "error"
        assert outputs[-1]["ename"] == DEAD_KERNEL
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        # The manager restarts it (as jupyter_server's auto-restart does): the executor
        # notices, waits until the kernel answers, and runs cells again.
        await km.restart_kernel(now=True)
        await h.sink.wait_for(lambda: h.sink.statuses[-1] == "idle")
        (after,) = await h.run({"after": "print('back')"})
        assert after.status == "ok" and h.sink.text("after") == "back\n"


async def test_a_blocking_kernel_manager_works_too(kernel_env: None) -> None:
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    try:
        async with harness(km) as h:
            (record,) = await h.run({"c": "print('sync manager')"})
            assert record.status == "ok" and h.sink.text("c") == "sync manager\n"
    finally:
        km.shutdown_kernel(now=True)


async def test_no_kernel_process_outlives_its_manager(kernel_env: None) -> None:
    async with started_kernel() as km:
        pid = kernel_pid(km)
        assert psutil.pid_exists(pid)
        async with harness(km) as h:
            await h.run({"c": "1"})
    with contextlib.suppress(psutil.NoSuchProcess):
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_a_cell_queued_while_waiting_runs_once_and_while_running_runs_again(
    shared_km: AsyncKernelManager,
) -> None:
    async with harness(shared_km) as h:
        h.sources.update({"w": "n = input()\nprint('got', n)", "x": "print('x')"})
        (first,) = h.executor.submit(["w"], "ann")
        # Barrier: "w" is running (it waits for input) before it is asked for again.
        await h.sink.wait_for(lambda: bool(h.sink.prompts))
        second, queued_x = h.executor.submit(["w", "x"], "bob")
        third, again_x = h.executor.submit(["x", "w"], "cat")
        assert third is queued_x and again_x is second
        assert h.executor.reply_input("1")
        assert (await first).status == "ok"
        await h.sink.wait_for(lambda: len(h.sink.prompts) == 2)
        assert h.executor.reply_input("2")
        records = await asyncio.wait_for(asyncio.gather(second, queued_x), 10)
        assert [(r.cell_id, r.who, r.status) for r in records] == [
            ("w", "bob", "ok"),
            ("x", "bob", "ok"),
        ]
        assert [r.cell_id for r in h.sink.records] == ["w", "w", "x"]
        assert h.sink.text("w") == "got 2\n"
        assert h.sink.text("w", "stdin") == "2\n"


async def test_a_password_prompt_is_masked(shared_km: AsyncKernelManager) -> None:
    async with harness(shared_km) as h:
        h.sources["secret"] = "import getpass\nsecret = getpass.getpass('Key: ')\nlen(secret)"
        (future,) = h.executor.submit(["secret"], "ann")
        await h.sink.wait_for(lambda: bool(h.sink.prompts))
        assert h.sink.prompts == [("secret", "Key: ", True)]
        h.executor.reply_input("hunter2")
        await future
        assert h.sink.text("secret", "stdin") == "Key: ········\n"
        assert h.sink.outputs["secret"][-1]["data"]["text/plain"] == "7"


async def test_stop_reports_the_running_and_waiting_cells(kernel_env: None) -> None:
    async with started_kernel() as km:
        sink = RecordingSink()
        sources = {"ask": "input()", "next": "1"}
        executor = Executor(km, sink, sources.get)
        await executor.start()
        asked, waiting = executor.submit(["ask", "next"], "ann")
        await sink.wait_for(lambda: bool(sink.prompts))
        await executor.stop()
        assert (await asked).status == "aborted"
        assert (await waiting).status == "aborted"
        assert sink.cell_states("ask")[-1] == "idle"
        assert ("input_done", "ask") in sink.events
