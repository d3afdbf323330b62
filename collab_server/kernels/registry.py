"""Which kernel processes this server started, on disk, so a crash leaves no orphan.

One small JSON file per running kernel in ``{data_dir}/kernels/running/``: the kernel id, the
process id, the connection file, the notebook's file id, who started it. Written when a
kernel starts, removed when it is shut down. After a crash (``kill -9`` of the server) the
files remain: on the next start, :func:`reap_orphans` kills each recorded process that is
still running *and is still that kernel* (its command line names the recorded connection
file, so a recycled pid of another program is never touched), and reports which notebooks
lost their kernel.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@dataclass(frozen=True)
class KernelEntry:
    kernel_id: str
    pid: int
    connection_file: str
    file_id: str
    owner: str


class KernelRegistry:
    def __init__(self, directory: Path, log: logging.Logger) -> None:
        self.directory = directory
        self.log = log
        directory.mkdir(parents=True, exist_ok=True)

    def _file(self, kernel_id: str) -> Path:
        if not _SAFE_ID.match(kernel_id):
            raise ValueError("not a kernel id")
        return self.directory / f"{kernel_id}.json"

    def add(self, entry: KernelEntry) -> None:
        path = self._file(entry.kernel_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(entry)))
        os.replace(tmp, path)

    def remove(self, kernel_id: str) -> None:
        with contextlib.suppress(ValueError):
            self._file(kernel_id).unlink(missing_ok=True)

    def entries(self) -> list[KernelEntry]:
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                found.append(
                    KernelEntry(
                        kernel_id=str(data["kernel_id"]),
                        pid=int(data["pid"]),
                        connection_file=str(data["connection_file"]),
                        file_id=str(data.get("file_id", "")),
                        owner=str(data.get("owner", "")),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                self.log.warning("Ignoring an unreadable kernel record %s", path.name)
                path.unlink(missing_ok=True)
        return found

    def reap_orphans(self) -> list[KernelEntry]:
        """Kill the recorded kernels of a previous run that are still running; forget every
        record. Returns the records (their notebooks lost their kernel)."""
        entries = self.entries()
        for entry in entries:
            if is_kernel_process(entry.pid, entry.connection_file):
                self.log.warning("Stopping kernel %s left running by a crash", entry.kernel_id)
                kill_kernel_process(entry.pid)
            with contextlib.suppress(OSError):
                Path(entry.connection_file).unlink(missing_ok=True)
            self.remove(entry.kernel_id)
        return entries


def command_line(pid: int) -> list[str] | None:
    """The process's arguments, or ``None`` when it is gone or cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def is_kernel_process(pid: int, connection_file: str) -> bool:
    """Is ``pid`` running, and is it the kernel launched with ``connection_file``?"""
    if pid <= 1 or pid == os.getpid() or not connection_file:
        return False
    args = command_line(pid)
    if not args:
        return False
    name = os.path.basename(connection_file)
    return any(arg == connection_file or arg.endswith("/" + name) for arg in args)


def kill_kernel_process(pid: int) -> None:
    """SIGKILL the kernel and, when it leads its own process group (jupyter_client starts
    kernels in a new session), everything it started."""
    with contextlib.suppress(OSError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
