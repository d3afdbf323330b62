"""Benchmark apps: time to result of a small published notebook run with parameters.

    python -m bench.apps_bench --quick    # about 2 minutes on 2 cores
    python -m bench.apps_bench            # more repetitions

Real servers on 127.0.0.1, real kernels (ipykernel), the REST API from Python (httpx). Four
figures, in one run on one machine:

1. **Cold**: ``POST /api/collab/apps/{id}/runs?wait=60`` with no warm pool: a kernel started
   for the run, every cell run, the result read — time from the request to the answer.
2. **Warm**: the same with a pool of one warm kernel (setup cells already run); each run waits
   first until a kernel is parked again, so every timed run is a pool hit.
3. **The anchor**: the ``papermill`` command line on the same notebook with the same
   parameter (its own kernel start, its own process start: what a cron job calling papermill
   costs).
4. **20 concurrent runs** on the machine's cores (no pool, the server's default of 4 runs at
   once, the rest queued): throughput and p50 / p99 time to result.

And the memory of a parked warm kernel (RSS and USS of its process), and the apps listing the
Discover page asks for (``GET /api/collab/apps?limit=200``) with 1,000 published apps: the
first listing (each app's shape recorded once) and later ones. The table goes to stdout
and to ``bench/results/<date>-<host>-apps.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nbformat
import psutil

from .servers import TOKEN, Ours, Server

HERE = Path(__file__).resolve().parent
HEADERS = {"Authorization": f"token {TOKEN}"}
CONCURRENT = 20


def log(message: str) -> None:
    print(f"[apps-bench] {message}", flush=True)


class AppsServer(Ours):
    """Our server with options of the apps under test."""

    def __init__(self, base: Path, *options: str) -> None:
        super().__init__(base)
        self.options = list(options)

    def command(self) -> list[str]:
        return [*super().command(), "--CollabServer.apps_max_runs_per_user=0", *self.options]


def small_app() -> dict[str, Any]:
    """A small app: a setup cell of imports, parameters, a little work, a JSON result."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    cells = [
        ("", "import json, math, statistics"),
        ("parameters", "n = 1000  # how many values\nscale = 1.0"),
        ("", "values = [math.sin(i) * scale for i in range(n)]"),
        ("result", "from IPython.display import JSON\nJSON({'mean': statistics.fmean(values)})"),
    ]
    for tag, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    return dict(json.loads(nbformat.writes(nb)))


def publish(server: Server, name: str) -> str:
    (server.root / name).write_text(json.dumps(small_app()))
    r = httpx.post(f"{server.http_url}/api/collab/publish/{name}", headers=HEADERS, json={},
                   timeout=30)  # fmt: skip
    r.raise_for_status()
    return str(r.json()["id"])


def run_once(server: Server, pid: str, n: int) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    r = httpx.post(
        f"{server.http_url}/api/collab/apps/{pid}/runs?wait=300",
        headers=HEADERS,
        json={"parameters": {"n": n}},
        timeout=330,
    )
    elapsed = time.monotonic() - started
    r.raise_for_status()
    run = r.json()
    if run["status"] != "succeeded":
        raise RuntimeError(f"run failed: {run}")
    return elapsed, run


def wait_parked(server: Server, pid: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.http_url}/api/collab/apps/{pid}", headers=HEADERS, timeout=30)
        if r.json()["pool"]["parked"] >= 1:
            return
        time.sleep(0.05)
    raise RuntimeError("no warm kernel was parked")


def kernels_of(server: Server) -> list[psutil.Process]:
    assert server.process is not None
    found = []
    for child in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def cold(base: Path, repeats: int) -> dict[str, Any]:
    server = AppsServer(base / "cold", "--CollabServer.apps_pool_size=0").start()
    try:
        pid = publish(server, "small.ipynb")
        run_once(server, pid, 10)  # imports warmed in the OS cache, server code paths loaded
        times = [run_once(server, pid, 100 + i)[0] for i in range(repeats)]
        return {"median": statistics.median(times), "runs": times}
    finally:
        server.stop()


def warm(base: Path, repeats: int) -> dict[str, Any]:
    server = AppsServer(base / "warm", "--CollabServer.apps_pool_size=1").start()
    try:
        pid = publish(server, "small.ipynb")
        wait_parked(server, pid)
        kernels = kernels_of(server)
        memory = [k.memory_full_info() for k in kernels]
        rss = statistics.mean(m.rss for m in memory) if memory else 0
        uss = statistics.mean(m.uss for m in memory) if memory else 0
        times = []
        for i in range(repeats):
            wait_parked(server, pid)
            elapsed, run = run_once(server, pid, 100 + i)
            if not run["warm"]:
                raise RuntimeError("a timed warm run did not get a warm kernel")
            times.append(elapsed)
        return {"median": statistics.median(times), "runs": times, "rss": rss, "uss": uss,
                "parked": len(kernels)}  # fmt: skip
    finally:
        server.stop()


def papermill_cli(base: Path, repeats: int) -> dict[str, Any]:
    folder = base / "papermill"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "small.ipynb"
    source.write_text(json.dumps(small_app()))
    command = [sys.executable, "-m", "papermill", str(source), str(folder / "out.ipynb"),
               "-p", "n", "100", "--no-progress-bar", "--log-level", "ERROR"]  # fmt: skip
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(folder / "runtime")}
    subprocess.run(command, check=True, capture_output=True, env=env)  # warm the OS cache
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.monotonic() - started)
    # The same without the command's start (importing papermill, nbformat and jsonschema's
    # format checkers is most of it on a small machine): execute_notebook in one process.
    script = (
        "import json, sys, time, papermill\n"
        "times = []\n"
        f"for i in range({repeats}):\n"
        "    t = time.monotonic()\n"
        "    papermill.execute_notebook(sys.argv[1], sys.argv[2], parameters={'n': 100},"
        " progress_bar=False)\n"
        "    times.append(time.monotonic() - t)\n"
        "print(json.dumps(times))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(source), str(folder / "out2.ipynb")],
        check=True, capture_output=True, env=env, text=True,
    )  # fmt: skip
    in_process = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "median": statistics.median(times),
        "runs": times,
        "in_process_median": statistics.median(in_process),
        "in_process": in_process,
    }


def concurrent(base: Path) -> dict[str, Any]:
    server = AppsServer(base / "concurrent", "--CollabServer.apps_pool_size=0").start()
    try:
        pid = publish(server, "small.ipynb")
        run_once(server, pid, 10)
        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENT) as pool:
            results = list(pool.map(lambda i: run_once(server, pid, 100 + i), range(CONCURRENT)))
        wall = time.monotonic() - started
        times = sorted(t for t, _ in results)
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        return {"wall": wall, "throughput": CONCURRENT / wall, "p50": statistics.median(times),
                "p99": p99, "runs": times}  # fmt: skip
    finally:
        server.stop()


LISTED = 1000


def listing(base: Path) -> dict[str, Any]:
    server = AppsServer(base / "listing", "--CollabServer.apps_pool_size=0").start()
    try:
        text = json.dumps(small_app())
        for i in range(LISTED):
            (server.root / f"app{i}.ipynb").write_text(text)

        def publish_one(i: int) -> None:
            r = httpx.post(f"{server.http_url}/api/collab/publish/app{i}.ipynb",
                           headers=HEADERS, json={}, timeout=60)  # fmt: skip
            r.raise_for_status()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(publish_one, range(LISTED)))
        url = f"{server.http_url}/api/collab/apps?limit=200"

        def timed() -> float:
            started = time.monotonic()
            r = httpx.get(url, headers=HEADERS, timeout=120)
            r.raise_for_status()
            assert len(r.json()["apps"]) == 200
            return time.monotonic() - started

        first = timed()
        later = sorted(timed() for _ in range(20))
        return {"first": first, "p50": statistics.median(later), "p99": later[-1],
                "later": later}  # fmt: skip
    finally:
        server.stop()


def table(results: dict[str, Any]) -> str:
    c, w, p, n = results["cold"], results["warm"], results["papermill"], results["concurrent"]
    li = results["listing"]
    rows = [
        ("time to result, cold (kernel started for the run): median",
         f"{c['median']:.2f} s", f"{len(c['runs'])} runs, one after another"),
        ("time to result, warm pool hit (setup cells already run): median",
         f"{w['median']:.2f} s", f"{c['median'] / w['median']:.1f}× faster than cold"),
        ("papermill command line, same notebook and parameter (the anchor): median",
         f"{p['median']:.2f} s", "process start + kernel start + run, no server"),
        ("papermill.execute_notebook in a running process (imports done): median",
         f"{p['in_process_median']:.2f} s", "kernel start + run: what a cold run costs at least"),
        (f"{CONCURRENT} concurrent runs (no pool, 4 at once, rest queued): throughput",
         f"{n['throughput']:.2f} runs/s", f"all done in {n['wall']:.1f} s"),
        (f"{CONCURRENT} concurrent runs: time to result p50 / p99",
         f"{n['p50']:.2f} s / {n['p99']:.2f} s", "includes the wait in the queue"),
        ("memory of a parked warm kernel: RSS / USS",
         f"{w['rss'] / 1e6:.0f} MB / {w['uss'] / 1e6:.0f} MB", "ipykernel with the setup cell run"),
        (f"apps listing, {LISTED:,} published (200 a page): first / later p50",
         f"{li['first'] * 1000:.0f} ms / {li['p50'] * 1000:.1f} ms",
         "the first records each app's shape; later ones read no notebook"),
    ]  # fmt: skip
    head = "| metric | value | note |\n|---|---:|---|\n"
    return head + "\n".join(f"| {m} | {v} | {note} |" for m, v, note in rows)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apps_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    started = time.monotonic()
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="collab-appbench-") as tmp:
        base = Path(tmp)
        results["papermill"] = papermill_cli(base, max(3, repeats // 2))
        log(f"papermill: {results['papermill']['median']:.2f} s")
        results["cold"] = cold(base, repeats)
        log(f"cold: {results['cold']['median']:.2f} s")
        results["warm"] = warm(base, repeats)
        log(f"warm: {results['warm']['median']:.2f} s")
        results["concurrent"] = concurrent(base)
        log(f"concurrent: {results['concurrent']['throughput']:.2f} runs/s")
        results["listing"] = listing(base)
        log(f"listing: {results['listing']['p50'] * 1000:.1f} ms")
    host = platform.node() or "host"
    markdown = table(results)
    load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    text = (
        f"# Apps benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({'quick' if args.quick else 'full'})\n\n"
        f"Machine: {host}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; server, kernels and clients share the machine. "
        f"Load average before / after: {load_before} / {load_after}. "
        f"Run time: {time.monotonic() - started:.0f} s.\n\n"
        + markdown
        + "\n\nRaw results:\n\n```json\n"
        + json.dumps(results, indent=1)
        + "\n```\n"
    )
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{datetime.now(UTC):%Y-%m-%d-%H%M}-{host}-apps.md"
    out.write_text(text)
    print("\n" + markdown)
    print(f"\nSaved to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
