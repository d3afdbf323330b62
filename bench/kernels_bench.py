"""Benchmark running code together: outputs written into the shared document by the server.

    python -m bench.kernels_bench --quick    # under 3 minutes on 2 cores
    python -m bench.kernels_bench            # the full run (under 15 minutes)

One collab_server on 127.0.0.1, real kernels (ipykernel), real clients (the Node client of
load.mjs: yjs + y-protocols, what JupyterLab runs). Three figures:

1. **Output latency**: a cell prints 50 lines a second for 20 s, each line carrying the
   kernel's ``time.time()``; a remote client records when each line reaches its document (same
   machine, same clock). The cell flushes every line (``print(..., flush=True)``): without it
   ipykernel sends stdout every 0.2 s, and that delay is the kernel's, not the server's.
2. **Typing under an output flood**: 20 clients type at 5 keys/s, each in its own cell (the
   load client's typing mode), once alone and once while another cell of the same notebook
   prints 1 MB/s; edit-to-remote p50/p99 of both, in the same run. Three of the clients
   (``--observers``) apply every update and time the others' edits; the rest only count
   frames. All clients share one Node process, so each observer applying the flood delays the
   others' timestamps (20 browsers would not): fewer observers keep that cost the client's own.
   The server's CPU share during each phase is reported with it.
3. **Store and file size after streaming**: one cell prints a log (100 kB/s by default) for
   10 minutes (``--quick``: 1 minute) on a fresh server; the update store's bytes for that
   document (its rows in SQLite) and the database file (``page_count × page_size``), against
   the saved ``.ipynb``.

Stock jupyter-collaboration does not write outputs server-side (the browser that ran the cell
does), so it has no same-run figure for 1–3; the table says so. The table goes to stdout and to
``bench/results/<date>-<host>-kernels.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nbformat

from .servers import TOKEN, Ours, Server

HERE = Path(__file__).resolve().parent

TYPISTS = 20
LATENCY_RATE = 50  # lines per second
LATENCY_SECONDS = 20.0
FLOOD_BYTES_PER_SECOND = 1_000_000
P99_BUDGET_MS = 100.0
STOCK_NOTE = "no server-side outputs in the stock server"
_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"  [{time.monotonic() - _T0:6.1f} s] {message}", flush=True)


# -- the cells ---------------------------------------------------------------------------------

LATENCY_CELL = """\
import time
t0 = time.time()
for i in range({count}):
    time.sleep(max(0.0, t0 + i / {rate} - time.time()))
    print(f"line {{i}} @{{time.time():.6f}}@", flush=True)
print("@end@", flush=True)
"""

# Paced blocks of 1000-byte lines: ``rate`` bytes a second, ten writes a second.
STREAM_CELL = """\
import sys, time
block = ("x" * 999 + "\\n") * max(1, {rate} // 10000)
t0 = time.time()
i = 0
while time.time() < t0 + {seconds}:
    time.sleep(max(0.0, t0 + i / 10 - time.time()))
    sys.stdout.write(block)
    sys.stdout.flush()
    i += 1
print("@end@", flush=True)
"""

# A training log: numbered lines of about 100 characters, ten flushes a second.
LOG_CELL = """\
import sys, time
per_tick = max(1, {rate} // 1000)
t0 = time.time()
i = 0
n = 0
while time.time() < t0 + {seconds}:
    time.sleep(max(0.0, t0 + i / 10 - time.time()))
    lines = []
    for _ in range(per_tick):
        lines.append(f"step {{n:09d}} loss {{1 / (n + 1):.6f}} lr 0.001 " + "." * 54 + "\\n")
        n += 1
    sys.stdout.write("".join(lines))
    sys.stdout.flush()
    i += 1
print("@end@", flush=True)
"""


def write_notebook(root: Path, name: str, sources: list[str]) -> list[str]:
    """Write a notebook of code cells; returns the cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, root / name)
    return [str(cell["id"]) for cell in nb.cells]


# -- talking to the server ---------------------------------------------------------------------


class Kernel:
    """The shared kernel of one notebook, driven over the REST API."""

    def __init__(self, server: Server, path: str) -> None:
        self.server = server
        self.path = path
        self.http = httpx.Client(base_url=server.http_url, params={"token": TOKEN}, timeout=120)
        r = self.http.post(f"/api/collab/kernels/{path}", json={})
        r.raise_for_status()
        state = r.json()
        self.kernel_id: str = state["kernel"]["id"]
        self.document_id: str = state["document_id"]
        self.file_id = self.document_id.rsplit(":", 1)[1]
        self._pool = ThreadPoolExecutor(max_workers=2)

    def run(self, cell_id: str) -> Future[httpx.Response]:
        """Execute a cell; the future holds the answer, sent when the cell has run."""

        def post() -> httpx.Response:
            with httpx.Client(
                base_url=self.server.http_url, params={"token": TOKEN}, timeout=3600
            ) as http:
                return http.post(
                    f"/api/kernels/{self.kernel_id}/execute",
                    json={"cell_id": cell_id, "document_id": self.document_id},
                )

        return self._pool.submit(post)

    def wait_running(self, cell_id: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.http.get(f"/api/collab/kernels/{self.path}").json()
            if any(c["cell_id"] == cell_id and c["state"] == "running" for c in state["cells"]):
                return
            time.sleep(0.05)
        raise RuntimeError(f"cell {cell_id} never started")

    def interrupt(self) -> None:
        self.http.post(f"/api/kernels/{self.kernel_id}/interrupt").raise_for_status()

    def shutdown(self) -> None:
        self.http.delete(f"/api/kernels/{self.kernel_id}")
        self.http.close()
        self._pool.shutdown(wait=False)


class Node:
    """A load.mjs process; ``lines()`` are its JSON result lines."""

    def __init__(self, server: Server, info: dict[str, str], **config: Any) -> None:
        config.update(
            url=server.room_url,
            room=f"json:notebook:{info['fileId']}",
            params={"sessionId": info["sessionId"], "token": TOKEN},
        )
        self.process = subprocess.Popen(
            ["node", str(HERE / "load.mjs"), json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )

    def next_result(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        found: list[dict[str, Any]] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if line.startswith("{"):
                    found.append(json.loads(line))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.process.kill()
            err = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"load.mjs gave no result: {err[-2000:]}")
        if "error" in found[0]:
            raise RuntimeError(found[0]["error"])
        return found[0]

    def wait(self) -> None:
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


# -- 1. output latency -------------------------------------------------------------------------


def output_latency(server: Server, seconds: float) -> dict[str, Any]:
    count = int(seconds * LATENCY_RATE)
    [cell] = write_notebook(
        server.root, "latency.ipynb", [LATENCY_CELL.format(count=count, rate=LATENCY_RATE)]
    )
    info = server.session("latency.ipynb")
    kernel = Kernel(server, "latency.ipynb")
    log("latency: kernel started")
    try:
        watcher = Node(server, info, mode="outputs", clients=1, duration=seconds, grace=15)
        watcher.next_result(60)  # {"ready": true}
        log("latency: watcher synced, running the cell")
        answer = kernel.run(cell)
        result = watcher.next_result(seconds + 30)
        watcher.wait()
        answer.result(30)
        result["expected"] = count
        result["seconds"] = seconds
        return result
    finally:
        kernel.shutdown()


# -- 2. typing under an output flood -----------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stream_bytes_saved(notebook: Path, index: int) -> int | None:
    """Bytes of stdout the saved cell received: what it holds plus what the cap dropped."""
    import re

    cell = nbformat.read(notebook, as_version=4).cells[index]
    text = "".join(o["text"] for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    if not text:
        return None
    marker = re.search(r"\n… (\d+) bytes truncated …\n", text)
    dropped = int(marker.group(1)) if marker else 0
    kept = text.replace(marker.group(0), "") if marker else text
    return dropped + len(kept.encode())


def typing_under_flood(server: Server, seconds: float, observers: int) -> dict[str, Any]:
    sources = [f"# typist {i}\n" for i in range(TYPISTS)]
    # The flood runs longer than the typing; it is interrupted once the typing is done.
    sources.append(STREAM_CELL.format(rate=FLOOD_BYTES_PER_SECOND, seconds=seconds + 60))
    ids = write_notebook(server.root, "typing.ipynb", sources)
    flood_cell = ids[-1]
    info = server.session("typing.ipynb")
    kernel = Kernel(server, "typing.ipynb")

    def typing() -> dict[str, Any]:
        assert server.process is not None
        node = Node(
            server, info, clients=TYPISTS, observers=observers, rate=5, duration=seconds, grace=3
        )
        cpu, wall = cpu_seconds(server.process.pid), time.monotonic()
        result = node.next_result(seconds + 120)
        elapsed = time.monotonic() - wall
        result["server_cpu"] = (cpu_seconds(server.process.pid) - cpu) / elapsed
        result["client_cpu"] = cpu_seconds(node.process.pid) / elapsed
        node.wait()
        return result

    try:
        log("typing: kernel started")
        quiet = typing()
        log("typing: quiet phase done")
        answer = kernel.run(flood_cell)
        flood_started = time.monotonic()
        kernel.wait_running(flood_cell)
        time.sleep(1)  # the flood is flowing: its first second reached the document
        flooded = typing()
        log("typing: flood phase done")
        kernel.interrupt()
        flood_seconds = time.monotonic() - flood_started
        answer.result(60)
        log("typing: flood interrupted")
        # What reached the document, from the saved notebook (the run's error output marks
        # the save after the interrupt).
        notebook = server.root / "typing.ipynb"
        deadline = time.monotonic() + 30
        while "KeyboardInterrupt" not in notebook.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        received = stream_bytes_saved(notebook, len(sources) - 1)
        flooded["flood_bytes_per_second"] = (
            received / flood_seconds if received is not None else None
        )
        return {"quiet": quiet, "flood": flooded}
    finally:
        kernel.shutdown()


# -- 3. store and file size --------------------------------------------------------------------


def room_bytes(db: Path, file_id: str) -> int:
    """Bytes the update store holds for the document: snapshot, saved copy and update log."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(COALESCE(length(snapshot), 0) + COALESCE(length(saved_content),"
            " 0)), 0) FROM documents WHERE room_id LIKE ?",
            [f"%:{file_id}"],
        ).fetchone()
        log = conn.execute(
            "SELECT COALESCE(SUM(length(data)), 0) FROM updates WHERE room_id LIKE ?",
            [f"%:{file_id}"],
        ).fetchone()
    return int(row[0]) + int(log[0])


def db_file_bytes(db: Path) -> int:
    """``page_count × page_size`` after a checkpoint (the WAL folded into the file)."""
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


def log_rows(db: Path, file_id: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM updates WHERE room_id LIKE ?", [f"%:{file_id}"]
        ).fetchone()
    return int(row[0])


def store_growth(server: Server, seconds: float, rate: int) -> dict[str, Any]:
    """Run first on a fresh server: the database file then holds this document only."""
    db = server.base / "collab-data" / "collab.sqlite"
    [cell] = write_notebook(
        server.root, "stream.ipynb", [LOG_CELL.format(rate=rate, seconds=seconds)]
    )
    notebook = server.root / "stream.ipynb"
    kernel = Kernel(server, "stream.ipynb")
    file_id = kernel.file_id
    try:
        answer = kernel.run(cell)
        log("store: streaming")
        peak = 0
        while not answer.done():
            peak = max(peak, room_bytes(db, file_id))
            time.sleep(2)
        answer.result()
        deadline = time.monotonic() + 60
        while "@end@" not in notebook.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError("the notebook was never saved")
            time.sleep(0.2)
    finally:
        kernel.shutdown()
    log("store: saved, kernel shut down")
    # Nobody is in the room: it closes and compacts its log into one snapshot. Wait for that
    # (the log empty), at most 30 s; a log still there is measured as it is.
    deadline = time.monotonic() + 30
    while log_rows(db, file_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    final_room = room_bytes(db, file_id)
    return {
        "seconds": seconds,
        "rate": rate,
        "written": int(seconds * max(1, rate // 1000) * 1000),
        "peak_room": max(peak, final_room),
        "room": final_room,
        "log_rows_left": log_rows(db, file_id),
        "db_file": db_file_bytes(db),
        "ipynb": notebook.stat().st_size,
    }


# -- the run -----------------------------------------------------------------------------------


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.1f}{unit}" if abs(value) >= 1 else f"{value:.2f}{unit}"


def mb(value: int) -> str:
    return f"{value / 1e6:.2f} MB"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def table(results: dict[str, Any], quick: bool) -> str:
    lat = results["latency"]
    typing = results["typing"]
    store = results["store"]
    quiet, flood = typing["quiet"], typing["flood"]
    ok = flood["p99"] is not None and flood["p99"] < P99_BUDGET_MS
    ratio = store["room"] / store["ipynb"]
    file_ratio = store["db_file"] / store["ipynb"]
    minutes = store["seconds"] / 60
    rows = [
        (
            f"output latency, print → remote document ({LATENCY_RATE} lines/s, "
            f"{lat['seconds']:g} s, flush=True): p50 / p99",
            f"{fmt(lat['p50'], ' ms')} / {fmt(lat['p99'], ' ms')}",
            f"{lat['lines']} of {lat['expected']} lines seen",
        ),
        (
            f"typing, {TYPISTS} clients at 5 keys/s, no output: edit-to-remote p50 / p99 "
            f"({quiet['observers']} observers)",
            f"{fmt(quiet['p50'], ' ms')} / {fmt(quiet['p99'], ' ms')}",
            f"{quiet['dropped']} of {quiet['expected']} undelivered; server CPU "
            f"{quiet['server_cpu']:.0%}",
        ),
        (
            f"typing, {TYPISTS} clients at 5 keys/s, one cell printing 1 MB/s: p50 / p99",
            f"{fmt(flood['p50'], ' ms')} / {fmt(flood['p99'], ' ms')}",
            f"{flood['dropped']} of {flood['expected']} undelivered; server CPU "
            f"{flood['server_cpu']:.0%}; output reached the document at "
            f"{fmt((flood.get('flood_bytes_per_second') or 0) / 1e6, ' MB/s')}; "
            f"p99 < 100 ms: {'yes' if ok else 'NO'}",
        ),
        (
            f"update store after {minutes:g} min of output in one cell "
            f"({store['rate'] // 1000} kB/s, {mb(store['written'])} printed)",
            f"{mb(store['room'])} = {ratio:.2f}× the .ipynb",
            f"peak while streaming {mb(store['peak_room'])}; must be < 3×: "
            f"{'yes' if ratio < 3 else 'NO'} (jupyter-collaboration#315: 580 MB for a 1.5 MB "
            "notebook; not rerun here)",
        ),
        (
            "database file (page_count × page_size) / .ipynb",
            f"{mb(store['db_file'])} / {mb(store['ipynb'])} = {file_ratio:.2f}×",
            "the whole database of a fresh server",
        ),
    ]
    head = "| metric | collab_server | jupyter-collaboration | note |\n|---|---:|---|---|\n"
    return head + "\n".join(f"| {m} | {v} | {STOCK_NOTE} | {n} |" for m, v, n in rows)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kernels_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter phases (under 3 minutes)")
    parser.add_argument(
        "--store-rate", type=int, default=100_000, help="bytes/s the store phase's cell prints"
    )
    parser.add_argument("--store-seconds", type=float, help="length of the store phase")
    parser.add_argument("--typing-seconds", type=float, help="length of each typing phase")
    parser.add_argument("--latency-seconds", type=float, default=LATENCY_SECONDS)
    parser.add_argument(
        "--only", choices=["ours", "stock"], help="as in `python -m bench` (stock: nothing to run)"
    )
    parser.add_argument(
        "--observers",
        type=int,
        default=3,
        help="typing clients that apply every update (the others only count frames)",
    )
    args = parser.parse_args()
    quick = args.quick
    if shutil.which("node") is None or not (HERE / "node_modules").exists():
        print("bench needs Node.js and `npm ci` in bench/", file=sys.stderr)
        return 2
    if args.only == "stock":
        print(f"{STOCK_NOTE}: nothing to run")
        return 0
    typing_seconds = args.typing_seconds or (10.0 if quick else 30.0)
    store_seconds = args.store_seconds or (60.0 if quick else 600.0)

    started = time.monotonic()
    load_before = load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="collab-kbench-") as tmp:
        server = Ours(Path(tmp) / "ours").start()
        log(f"{server.name} on port {server.port}")
        try:
            results["store"] = store_growth(server, store_seconds, args.store_rate)
            print(f"  store: {results['store']}", flush=True)
            results["latency"] = output_latency(server, args.latency_seconds)
            print(f"  output latency: {results['latency']}", flush=True)
            results["typing"] = typing_under_flood(server, typing_seconds, args.observers)
            print(f"  typing: {results['typing']}", flush=True)
        finally:
            server.stop()
            log("server stopped")

    elapsed = time.monotonic() - started
    host = platform.node() or "host"
    markdown = table(results, quick)
    header = (
        f"# Kernels benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({'quick' if quick else 'full'})\n\n"
        f"Machine: {host}, {platform.machine()}, {_cpus()} CPUs, Python "
        f"{platform.python_version()}; server, kernel and clients share the machine "
        f"(loopback). Load average before / after: {load_before} / {load_average()}.\n"
        f"Run time: {elapsed:.0f} s.\n\n"
    )
    text = (
        header
        + markdown
        + "\n\nRaw results:\n\n```json\n"
        + json.dumps(results, indent=1, default=str)
        + "\n```\n"
    )
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{datetime.now(UTC):%Y-%m-%d-%H%M}-{host}-kernels.md"
    out.write_text(text)
    print("\n" + markdown)
    print(f"\nSaved to {out}")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
