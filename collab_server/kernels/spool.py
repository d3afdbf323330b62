"""The full text of cells' streams, on disk, bounded.

The shared document keeps only the head and tail of a long stream (see ``outputs``); this
module keeps what the kernel printed, so it can be downloaded later. One append-only UTF-8
file per cell run, named by an opaque key (never a path a person chose), in one directory
that nothing else writes to.

Bounds, both documented configuration of the owner:

- ``max_file_bytes`` per run (default 64 MB): past it the file ends with a line saying the
  rest was not kept, and further text is counted but not written;
- ``max_total_bytes`` for the directory (default 1 GB): opening a new file first removes the
  oldest files until the directory is under the limit.

The text is stored raw, as the kernel sent it (``\\r`` and ``\\b`` not applied, stdout and
stderr interleaved in arrival order), like a terminal log.
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_TOTAL_BYTES = 1024 * 1024 * 1024

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


class SpoolFile:
    """The stream text of one cell run, appended as it arrives."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.written = 0
        self.dropped = 0
        self._file = path.open("ab")

    def append(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        room = self.max_bytes - self.written
        if room <= 0 or self._file.closed:
            self.dropped += len(data)
            return
        if len(data) > room:
            # Cut at a character boundary so the file stays valid UTF-8.
            kept = data[:room].decode("utf-8", "ignore").encode("utf-8")
            self._file.write(kept)
            self.written += len(kept)
            self.dropped += len(data) - len(kept)
            self._file.write(b"\n[output limit of the spool reached; the rest was not kept]\n")
            self._file.flush()
            return
        self._file.write(data)
        self.written += len(data)

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class StreamSpool:
    """A directory of spool files with a total size limit."""

    def __init__(
        self,
        directory: Path,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    ) -> None:
        self.directory = directory
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        directory.mkdir(parents=True, exist_ok=True)

    def path_of(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or key.startswith("."):
            raise ValueError("a spool key is letters, digits, '_', '-' and '.' only")
        return self.directory / f"{key}.txt"

    def open(self, key: str) -> SpoolFile:
        """A new (emptied) file for ``key``, after making room in the directory."""
        path = self.path_of(key)
        path.unlink(missing_ok=True)
        self._make_room(self.max_total_bytes - self.max_file_bytes)
        return SpoolFile(path, self.max_file_bytes)

    def read(self, key: str) -> bytes | None:
        """The full text of a run, or ``None`` when it is not (or no longer) kept."""
        path = self.path_of(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _make_room(self, budget: int) -> None:
        files = sorted(
            (entry for entry in self.directory.glob("*.txt") if entry.is_file()),
            key=lambda entry: entry.stat().st_mtime,
        )
        total = sum(entry.stat().st_size for entry in files)
        for entry in files:
            if total <= max(budget, 0):
                break
            total -= entry.stat().st_size
            entry.unlink(missing_ok=True)
