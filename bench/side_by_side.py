"""Our server at two revisions, side by side: the main benchmark's open and flood scenarios,
alternating between the two servers, so that other load on the machine weighs on both alike.

    python -m bench.side_by_side ce8aec2              # that revision against the working tree
    python -m bench.side_by_side ce8aec2 HEAD --rounds 9

Two runs of ``python -m bench`` minutes apart on a shared machine can differ by a factor of two
(the stock server's numbers move as much as ours); this tells a regression from a busier
machine. Each revision is taken with ``git archive`` into a temporary folder; both servers run
at once, each with its own data directory, and every round runs a scenario on both (in
alternating order). The table (medians, then every sample) goes to stdout and to
``bench/results/<date>-<host>-side-by-side.md``. Needs ``npm ci`` in bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from .__main__ import _open_and_sync, run_load, typing_latency, write_notebook
from .servers import Ours

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


class Tree(Ours):
    """Our server, run from the source tree ``tree`` (its ``collab_server`` package)."""

    def __init__(self, base: Path, tree: Path) -> None:
        super().__init__(base)
        self.tree = tree

    def start(self) -> Tree:
        previous = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(self.tree)
        try:
            super().start()
        finally:
            if previous is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = previous
        return self


def checkout(revision: str, into: Path) -> Path:
    """The source tree at ``revision`` (the working tree for ``.``)."""
    if revision == ".":
        return REPO
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "collab_server"],
        capture_output=True,
        check=True,
    ).stdout
    target = into / revision.replace("/", "_")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(target, filter="data")
    return target


def run(revisions: list[str], rounds: int) -> dict[str, dict[str, list[float]]]:
    samples: dict[str, dict[str, list[float]]] = {
        r: {"cold": [], "warm": [], "flood": [], "flood_p99": []} for r in revisions
    }
    with tempfile.TemporaryDirectory(prefix="collab-side-") as tmp:
        servers = {
            r: Tree(Path(tmp) / f"server-{i}", checkout(r, Path(tmp))).start()
            for i, r in enumerate(revisions)
        }
        try:
            for server in servers.values():
                typing_latency(server, 2, 0.5)  # imports and caches warm, as in the main run
            for n in range(rounds):
                order = revisions[n % 2 :] + revisions[: n % 2]
                paths = {}
                for r in order:
                    server = servers[r]
                    paths[r] = write_notebook(server.root, f"large-{n}.ipynb", 500, 10_000)
                    samples[r]["cold"].append(asyncio.run(_open_and_sync(server, paths[r])))
                time.sleep(2.5)  # the rooms close after 1 s: the next open loads from the store
                for r in order:
                    samples[r]["warm"].append(asyncio.run(_open_and_sync(servers[r], paths[r])))
                for r in order:
                    # The main run's flood (quick mode), on a fresh notebook each round.
                    name = write_notebook(servers[r].root, f"flood-{n}.ipynb", cells=10)
                    result = run_load(
                        servers[r], name, clients=10, observers=10, mode="flood",
                        duration=1.5, grace=3.0,
                    )  # fmt: skip
                    samples[r]["flood"].append(result["deliveredPerSecond"])
                    samples[r]["flood_p99"].append(result["p99"])
                print(f"  round {n + 1}/{rounds} done", flush=True)
        finally:
            for server in servers.values():
                server.stop()
    return samples


def table(samples: dict[str, dict[str, list[float]]]) -> str:
    names = list(samples)
    rows = [
        ("open 500-cell 5 MB notebook: first load (ms)", "cold"),
        ("open 500-cell 5 MB notebook: warm load (ms)", "warm"),
        ("flood, 10 clients: updates/s delivered to each client", "flood"),
        ("flood, 10 clients: p99 (ms)", "flood_p99"),
    ]
    out = ["| metric (median) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, key in rows:
        out.append(
            f"| {label} | "
            + " | ".join(f"{statistics.median(samples[n][key]):,.0f}" for n in names)
            + " |"
        )
    out.append("")
    out.append("Every sample, in round order:")
    out.append("")
    for n in names:
        for key in ("cold", "warm", "flood", "flood_p99"):
            out.append(f"- {n} {key}: " + ", ".join(f"{v:,.0f}" for v in samples[n][key]))
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.side_by_side", description=__doc__)
    parser.add_argument("base", help="a git revision")
    parser.add_argument("other", nargs="?", default=".", help="a git revision (default: .)")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if not (HERE / "node_modules").exists():
        print("bench needs Node.js and `npm ci` in bench/", file=sys.stderr)
        return 2
    revisions = [args.base, args.other]
    started = time.monotonic()
    samples = run(revisions, args.rounds)
    host = platform.node() or "host"
    text = (
        f"# Side by side {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{' vs '.join('working tree' if r == '.' else r for r in revisions)}\n\n"
        f"Machine: {host}, {platform.machine()}, {os.cpu_count() or 0} CPUs, Python "
        f"{platform.python_version()}; both servers run at once, scenarios alternate between "
        f"them ({args.rounds} rounds). Run time: {time.monotonic() - started:.0f} s.\n\n"
        + table(samples)
        + "\n"
    )
    out = HERE / "results" / f"{datetime.now(UTC):%Y-%m-%d-%H%M}-{host}-side-by-side.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print("\n" + text)
    print(f"Saved to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
