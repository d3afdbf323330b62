"""Benchmark collab_server against stock jupyter-collaboration, in one run, on one machine.

    python -m bench --quick      # under 2 minutes on 2 cores
    python -m bench              # the full run (100 clients, 1000 idle rooms, longer phases)

Both servers are started here, on 127.0.0.1, and driven by the same Node clients (yjs +
y-protocols, what JupyterLab runs; see load.mjs). The table goes to stdout and to
bench/results/<date>-<host>.md. Needs ``pip install -e ".[bench]"`` and ``npm ci`` in bench/.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat

from .servers import TOKEN, Ours, Server, Stock, available_stock

HERE = Path(__file__).resolve().parent


# -- helpers ---------------------------------------------------------------------------------


def write_notebook(root: Path, name: str, cells: int, output_bytes: int = 0, lines: int = 1) -> str:
    nb = nbformat.v4.new_notebook()
    for i in range(cells):
        cell = nbformat.v4.new_code_cell(f"# cell {i}\n" + f"x = compute({i}, y)\n" * lines)
        if output_bytes:
            cell.outputs = [
                nbformat.v4.new_output(
                    "display_data", data={"text/plain": "y" * output_bytes}, metadata={}
                )
            ]
        nb.cells.append(cell)
    nbformat.write(nb, root / name)
    return name


def run_load(server: Server, path: str, **config: Any) -> dict[str, Any]:
    info = server.session(path)
    config.update(
        url=server.room_url,
        room=f"json:notebook:{info['fileId']}",
        params={"sessionId": info["sessionId"], "token": TOKEN},
    )
    timeout = config.get("duration", 5) + config.get("grace", 3) + 120
    out = subprocess.run(
        ["node", str(HERE / "load.mjs"), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"load.mjs failed: {out.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.1f}{unit}" if abs(value) >= 1 else f"{value:.2f}{unit}"


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(
        self,
        metric: str,
        ours: float | None,
        theirs: float | None,
        unit: str = "",
        lower_is_better: bool = True,
        note: str = "",
    ) -> None:
        ratio = "–"
        if ours is not None and theirs is not None and ours > 0 and theirs > 0:
            better = theirs / ours if lower_is_better else ours / theirs
            ratio = f"{better:.1f}× {'better' if better >= 1 else 'worse'}"
        self.rows.append((metric, fmt(ours, unit), fmt(theirs, unit), ratio, note))
        print(f"  {metric}: ours {fmt(ours, unit)}, stock {fmt(theirs, unit)} {note}", flush=True)

    def markdown(self) -> str:
        head = "| metric | collab_server | jupyter-collaboration | ratio | note |\n"
        head += "|---|---:|---:|---|---|\n"
        return head + "\n".join("| " + " | ".join(row) + " |" for row in self.rows)


# -- scenarios ---------------------------------------------------------------------------------


def typing_latency(server: Server, clients: int, duration: float) -> dict[str, Any]:
    path = write_notebook(server.root, f"typing-{clients}.ipynb", cells=clients)
    return run_load(server, path, clients=clients, observers=10, rate=5, duration=duration, grace=2)


def flood(server: Server, clients: int, duration: float, grace: float) -> dict[str, Any]:
    path = write_notebook(server.root, f"flood-{clients}.ipynb", cells=clients)
    return run_load(
        server,
        path,
        clients=clients,
        observers=clients,
        mode="flood",
        duration=duration,
        grace=grace,
    )


def sustained_rate(server: Server, rates: list[int], step: float) -> tuple[int | None, list[Any]]:
    """The highest total rate (updates/s, 10 clients) every client receives within p99 100 ms."""
    best: int | None = None
    steps = []
    for rate in rates:
        path = write_notebook(server.root, f"rate-{rate}.ipynb", cells=10)
        result = run_load(
            server, path, clients=10, observers=10, rate=rate / 10, duration=step, grace=2
        )
        steps.append((rate, result["p99"], result["dropped"]))
        if result["p99"] is None or result["p99"] > 100 or result["dropped"] > 0:
            break
        best = rate
    return best, steps


async def _open_and_sync(server: Server, path: str) -> float:
    import websockets
    from pycrdt import Doc, create_sync_message, handle_sync_message

    started = time.perf_counter()
    url = server.notebook_room(path)
    doc = Doc()
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(create_sync_message(doc))
        async for frame in ws:
            if isinstance(frame, bytes) and frame[:2] == b"\x00\x01":
                handle_sync_message(frame[1:], doc)
                break
            if isinstance(frame, bytes) and frame[:2] == b"\x00\x00":
                reply = handle_sync_message(frame[1:], doc)
                if reply:
                    await ws.send(reply)
    return (time.perf_counter() - started) * 1000


def open_times(server: Server) -> tuple[float, float]:
    import asyncio

    path = write_notebook(server.root, "large.ipynb", cells=500, output_bytes=10_000)
    cold = asyncio.run(_open_and_sync(server, path))
    time.sleep(2.5)  # both servers close an empty room after 1 s here
    warm = asyncio.run(_open_and_sync(server, path))
    return cold, warm


async def _hold_rooms(server: Server, paths: list[str], hold: Callable[[], None]) -> None:
    import websockets

    sockets = []
    try:
        for path in paths:
            url = server.notebook_room(path)
            ws = await websockets.connect(url, max_size=None)
            await ws.send(b"\x00\x00\x01\x00")  # STEP1 with an empty state vector
            await ws.recv()
            sockets.append(ws)
        time.sleep(1)
        hold()
    finally:
        for ws in sockets:
            await ws.close()


def memory_per_room(kind: type[Server], base: Path, counts: list[int]) -> dict[int, float]:
    """KiB of server RSS per open idle room; a fresh server per count (Python keeps freed
    memory, so measuring counts one after the other on one process would mislead)."""
    import asyncio

    results: dict[int, float] = {}
    for count in counts:
        server = kind(base / f"memory-{count}").start()
        try:
            paths = [
                write_notebook(server.root, f"idle-{i}.ipynb", cells=3) for i in range(count + 1)
            ]
            # Warm up: the first room pays for imports and caches, not for being a room.
            asyncio.run(_hold_rooms(server, paths[:1], lambda: None))
            time.sleep(1)
            before = server.rss()
            measured: list[int] = []
            rss = server.rss
            asyncio.run(_hold_rooms(server, paths[1:], lambda: measured.append(rss())))  # noqa: B023
            results[count] = (measured[0] - before) / count / 1024
        finally:
            server.stop()
    return results


async def _sync(ws: Any, doc: Any) -> None:
    """Send STEP1 and apply the server's STEP2: ``doc`` then holds the whole document."""
    from pycrdt import create_sync_message, handle_sync_message

    await ws.send(create_sync_message(doc))
    while True:
        frame = await ws.recv()
        if isinstance(frame, bytes) and frame[:2] == b"\x00\x01":
            handle_sync_message(frame[1:], doc)
            return


async def _type_chars(server: Server, path: str, edits: int) -> None:
    import websockets
    from pycrdt import Doc, Text, create_update_message

    url = server.notebook_room(path)
    doc = Doc()
    async with websockets.connect(url, max_size=None) as ws:
        await _sync(ws, doc)
        from pycrdt import Array

        source: Text = doc.get("cells", type=Array)[0]["source"]
        updates: list[bytes] = []
        doc.observe(lambda event: updates.append(event.update))
        for i in range(edits):
            source.insert(len(str(source).encode()), "abcdefghij"[i % 10])
            await ws.send(create_update_message(updates.pop()))
            if i % 500 == 0:
                await asyncio_sleep(0.01)
        await asyncio_sleep(2)


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def store_growth(kind: type[Server], base: Path, edits: int) -> tuple[float, int, int]:
    """Size of the update store (its own tables' pages) after ``edits`` single-character
    edits, as a multiple of the saved notebook."""

    server = kind(base / "store").start()
    try:
        return _store_growth(server, edits)
    finally:
        server.stop()


def _store_growth(server: Server, edits: int) -> tuple[float, int, int]:
    import asyncio

    # A small real-world notebook (~25 KB): 30 cells of 20 lines.
    path = write_notebook(server.root, "store.ipynb", cells=30, lines=20)
    asyncio.run(_type_chars(server, path, edits))
    time.sleep(4)  # saved, room closed (and, for us, compacted)
    size = (server.root / path).stat().st_size
    stored = server.store_bytes()
    return stored / size, stored, size


def save_latency(server: Server, samples: int) -> float:
    import asyncio

    path = write_notebook(server.root, "save.ipynb", cells=3)

    async def measure() -> list[float]:
        import websockets
        from pycrdt import Array, Doc, create_update_message

        url = server.notebook_room(path)
        doc = Doc()
        times = []
        async with websockets.connect(url, max_size=None) as ws:
            await _sync(ws, doc)
            updates: list[bytes] = []
            doc.observe(lambda event: updates.append(event.update))
            for n in range(samples):
                marker = f"saved-{n}"
                source = doc.get("cells", type=Array)[0]["source"]
                source.insert(0, marker)
                await ws.send(create_update_message(updates.pop()))
                started = time.perf_counter()
                while marker not in (server.root / path).read_text():
                    await asyncio.sleep(0.01)
                    if time.perf_counter() - started > 30:
                        raise RuntimeError("the file was never saved")
                times.append((time.perf_counter() - started) * 1000)
        return times

    return statistics.median(asyncio.run(measure()))


# -- the run -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short phases, fewer clients")
    parser.add_argument("--only", choices=["ours", "stock"], help="run one server only")
    args = parser.parse_args()
    quick = args.quick
    if shutil.which("node") is None or not (HERE / "node_modules").exists():
        print("bench needs Node.js and `npm ci` in bench/", file=sys.stderr)
        return 2
    want_stock = args.only != "ours"
    if want_stock and not available_stock():
        print('stock server missing: pip install -e ".[bench]"', file=sys.stderr)
        return 2

    client_counts = [2, 10, 50] if quick else [2, 10, 50, 100]
    duration = 1.5 if quick else 10.0
    rates = [200, 800, 3200, 12800] if quick else [50, 100, 200, 400, 800, 1600, 3200, 6400, 12800]
    room_counts = [100] if quick else [1, 100, 1000]
    edits = 10_000

    table = Table()
    results: dict[str, dict[str, Any]] = {"ours": {}, "stock": {}}
    kinds: list[tuple[str, type[Server]]] = []
    if args.only != "stock":
        kinds.append(("ours", Ours))
    if want_stock:
        kinds.append(("stock", Stock))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="collab-bench-") as tmp:
        for key, kind in kinds:
            server = kind(Path(tmp) / key).start()
            print(f"== {server.name} on port {server.port}", flush=True)
            r = results[key]
            try:
                for n in client_counts:
                    r[f"type{n}"] = typing_latency(server, n, duration)
                    print(f"  typing {n}: {r[f'type{n}']}", flush=True)
                r["rate"] = sustained_rate(server, rates, 1.5 if quick else 5.0)
                print(f"  sustained: {r['rate']}", flush=True)
                r["open"] = open_times(server)
                r["save"] = save_latency(server, 2 if quick else 10)
                # Last on this server: a flood leaves the reference server busy for a while.
                r["flood"] = flood(server, 10, *((1.5, 3.0) if quick else (5.0, 10.0)))
                print(f"  flood: {r['flood']}", flush=True)
            finally:
                server.stop()
            r["memory"] = memory_per_room(kind, Path(tmp) / key, room_counts)
            r["store"] = store_growth(kind, Path(tmp) / key, edits)

    ours, stock = results["ours"], results["stock"]

    def get(result: Any, *keys: Any) -> Any:
        for key in keys:
            try:
                result = result[key]
            except (KeyError, IndexError, TypeError):
                return None
        return result

    for n in client_counts:
        for p in ("p50", "p99"):
            table.add(
                f"typing, {n} clients: {p} edit-to-remote",
                get(ours, f"type{n}", p),
                get(stock, f"type{n}", p),
                " ms",
            )
        table.add(
            f"typing, {n} clients: updates undelivered at the end",
            get(ours, f"type{n}", "dropped"),
            get(stock, f"type{n}", "dropped"),
            note=f"of {get(ours, f'type{n}', 'expected')} / {get(stock, f'type{n}', 'expected')}",
        )
    table.add(
        "flood, 10 clients: updates/s delivered to each client",
        get(ours, "flood", "deliveredPerSecond"),
        get(stock, "flood", "deliveredPerSecond"),
        lower_is_better=False,
    )
    table.add(
        "flood, 10 clients: p99", get(ours, "flood", "p99"), get(stock, "flood", "p99"), " ms"
    )
    table.add(
        "flood, 10 clients: updates undelivered at the end",
        get(ours, "flood", "dropped"),
        get(stock, "flood", "dropped"),
    )
    table.add(
        "sustained updates/s (10 clients) with p99 ≤ 100 ms",
        get(ours, "rate", 0),
        get(stock, "rate", 0),
        lower_is_better=False,
        note=f"highest step passed; steps tried {rates}",
    )
    table.add(
        "open 500-cell 5 MB notebook: first load",
        get(ours, "open", 0),
        get(stock, "open", 0),
        " ms",
    )
    table.add(
        "open 500-cell 5 MB notebook: warm load", get(ours, "open", 1), get(stock, "open", 1), " ms"
    )
    for count in room_counts:
        table.add(
            f"memory per idle room ({count} rooms)",
            get(ours, "memory", count),
            get(stock, "memory", count),
            " KiB",
        )
    table.add(
        f"update store after {edits:,} edits (× .ipynb size)",
        get(ours, "store", 0),
        get(stock, "store", 0),
        "×",
    )
    table.add("last edit → .ipynb on disk (median)", get(ours, "save"), get(stock, "save"), " ms")

    elapsed = time.monotonic() - started
    host = platform.node() or "host"
    header = (
        f"# Benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({'quick' if quick else 'full'})\n\n"
        f"Machine: {host}, {platform.machine()}, {_cpus()} CPUs, Python "
        f"{platform.python_version()}; servers and clients share the machine (loopback).\n"
        f"Run time: {elapsed:.0f} s.\n\n"
    )
    text = (
        header
        + table.markdown()
        + "\n\nRaw results:\n\n```json\n"
        + json.dumps(results, indent=1, default=str)
        + "\n```\n"
    )
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{datetime.now(UTC):%Y-%m-%d-%H%M}-{host}-{'quick' if quick else 'full'}.md"
    out.write_text(text)
    print("\n" + table.markdown())
    print(f"\nSaved to {out}")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
