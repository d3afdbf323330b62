"""The default contents manager: jupyter_server's, with saves that readers never see half-done.

jupyter_server's ``atomic_writing`` keeps a backup copy and then truncates and rewrites the
file in place, so for the few milliseconds of a write another program (``git``, an editor,
our own poller, a backup job) can read an empty or half-written notebook. Autosave writes
about once a second while people type, which makes that window easy to hit. Here a save goes
to a temporary file in the same folder, is flushed to disk, and replaces the file with one
``os.replace`` — the file on disk is always either the old version or the new one.

Everything else (hooks, checkpoints, hidden files, root dir) is jupyter_server's. Operators
who configure their own ``ServerApp.contents_manager_class`` replace this one entirely.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager


class AtomicFileContentsManager(AsyncLargeFileManager):
    """``AsyncLargeFileManager`` whose writes replace the file in one rename."""

    @contextlib.contextmanager
    def atomic_writing(self, os_path: str, *args: Any, **kwargs: Any) -> Iterator[IO[Any]]:
        target = os.path.realpath(os_path)  # write through a symlink, keep the link
        folder = os.path.dirname(target) or os.getcwd()
        if not self.use_atomic_writing or not os.access(folder, os.W_OK):
            # A read-only folder with a writable file: only an in-place write can work.
            with super().atomic_writing(os_path, *args, **kwargs) as f:
                yield f
            return
        text = kwargs.pop("text", True)
        encoding = kwargs.pop("encoding", "utf-8")
        kwargs.pop("log", None)
        with self.perm_to_403(os_path):
            fd, tmp_path = tempfile.mkstemp(
                prefix=f".~{os.path.basename(target)}.", suffix=".tmp", dir=folder
            )
        try:
            if text:
                kwargs.setdefault("newline", "\n")
                f = open(fd, "w", encoding=encoding, **kwargs)  # noqa: SIM115
            else:
                f = open(fd, "wb", **kwargs)  # noqa: SIM115
            with f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            if os.path.exists(target):
                # mkstemp creates the file 0600; the saved file keeps the mode it had.
                shutil.copymode(target, tmp_path)
            else:
                os.chmod(tmp_path, 0o666 & ~_UMASK)
            os.replace(tmp_path, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp_path)
            raise


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once, before any worker thread exists.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
