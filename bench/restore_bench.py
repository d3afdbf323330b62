"""Restore latency as a connected collaborator sees it.

    PYTHONPATH=. python -m bench.restore_bench [--quick]

Starts one collab_server on 127.0.0.1 with a generated notebook (500 cells, ~5 MB with its
outputs), connects two pycrdt clients to its room, names a version, lets one client edit 50
cells, then restores the named version: the time from the restore request to the moment the
*other* client's document holds the restored text (and the HTTP answer's own time), repeated.
Prints a Markdown table and saves it under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nbformat
import websockets
from jupyter_ydoc import YNotebook
from pycrdt import (
    Doc,
    TransactionEvent,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from .servers import TOKEN, Ours

RESULTS = Path(__file__).parent / "results"


def generated_notebook(cells: int) -> dict[str, Any]:
    """``cells`` code cells of ~1 KB source and ~9 KB text output each (~5 MB for 500)."""
    nb = nbformat.v4.new_notebook()
    for i in range(cells):
        cell = nbformat.v4.new_code_cell(f"# cell {i}\n" + f"value_{i} = compute({i})\n" * 40)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{i} " * 3000)]
        nb.cells.append(cell)
    return dict(json.loads(nbformat.writes(nb)))


class Client:
    """A minimal y-websocket client: syncs, applies what arrives, sends its own edits."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.doc = Doc()
        self.notebook = YNotebook(self.doc)
        self.changed = asyncio.Event()
        self.synced = asyncio.Event()
        self._applying = False
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._ws = await websockets.connect(self.url, max_size=None)
        self.doc.observe(self._local)
        self._reader = asyncio.create_task(self._read())
        await self._ws.send(create_sync_message(self.doc))
        await asyncio.wait_for(self.synced.wait(), 60)

    def _local(self, event: TransactionEvent) -> None:
        if not self._applying:
            asyncio.get_running_loop().create_task(
                self._ws.send(create_update_message(event.update))
            )

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in self._ws:
                if isinstance(frame, str) or frame[0] != 0:
                    continue
                self._applying = True
                try:
                    reply = handle_sync_message(frame[1:], self.doc)
                finally:
                    self._applying = False
                if reply is not None:
                    await self._ws.send(reply)
                if frame[1] == 1:
                    self.synced.set()
                self.changed.set()

    def source(self, cell: int) -> str:
        return str(self.notebook.ycells[cell]["source"])

    async def until(self, check: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the document never reached the expected state")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    async def close(self) -> None:
        await self._ws.close()
        if self._reader is not None:
            await self._reader


async def measure(server: Ours, path: str, rounds: int, edited: int) -> dict[str, Any]:
    url = server.notebook_room(path)
    editor, watcher = Client(url), Client(url)
    await editor.connect()
    await watcher.connect()
    original = [editor.source(i) for i in range(edited)]
    api = f"{server.http_url}/api/collab/versions/{path}"
    seen: list[float] = []
    answered: list[float] = []
    async with httpx.AsyncClient(headers={"Authorization": f"token {TOKEN}"}, timeout=120) as c:
        r = await c.post(api, json={"label": "before the edits"})
        r.raise_for_status()
        version = r.json()["id"]
        for n in range(rounds):
            marker = f"# edited {n}\n"
            with editor.doc.transaction():
                for i in range(edited):
                    editor.notebook.ycells[i]["source"].insert(0, marker)
            # The watcher has every edit: the restore's change is all that follows.
            await watcher.until(lambda m=marker: watcher.source(edited - 1).startswith(m))
            started = time.perf_counter()
            r = await c.post(f"{api}/{version}/restore")
            answered.append(time.perf_counter() - started)
            r.raise_for_status()
            await watcher.until(lambda: [watcher.source(i) for i in range(edited)] == original)
            seen.append(time.perf_counter() - started)
    await editor.close()
    await watcher.close()
    return {"seen": seen, "answered": answered}


def ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    args = parser.parse_args()
    rounds = 5 if args.quick else 15
    cells, edited = 500, 50
    with tempfile.TemporaryDirectory(prefix="restore-bench-") as tmp:
        server = Ours(Path(tmp)).start()
        try:
            path = "bench.ipynb"
            (server.root / path).write_text(json.dumps(generated_notebook(cells)))
            size = (server.root / path).stat().st_size
            result = asyncio.run(measure(server, path, rounds, edited))
        finally:
            server.stop()
    stamp = time.strftime("%Y-%m-%d-%H%M", time.gmtime())
    seen, answered = result["seen"], result["answered"]
    table = "\n".join(
        [
            f"# Restore benchmark {stamp} UTC{' (quick)' if args.quick else ''}",
            "",
            f"Machine: {platform.node()}, {platform.machine()}, Python "
            f"{platform.python_version()}; server and clients share the machine.",
            "",
            "| metric | value | note |",
            "|---|---:|---|",
            f"| restore seen by a connected client: p50 / max | {ms(seen, 0.5)} / "
            f"{ms(seen, 1.0)} | {rounds} restores of a {cells}-cell, {size / 1e6:.1f} MB "
            f"notebook undoing {edited} edited cells |",
            f"| restore request answered: p50 / max | {ms(answered, 0.5)} / "
            f"{ms(answered, 1.0)} | the `restore` version recorded, the edit applied |",
            f"| mean seen by the client | {statistics.mean(seen) * 1000:.0f} ms | |",
            "",
        ]
    )
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stamp}-{platform.node()}-restore.md").write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
