"""The default contents manager: jupyter_server's, with atomic saves and no symlink escapes.

**Symlinks.** Permissions are decided on the path a person asks for. A symbolic link inside
the root that points elsewhere (to ``/etc``, or to another team's folder) would let someone
with access to the link's folder read what the link points to. So a path that passes through
a symlink is not served (404), unless the operator turns ``follow_symlinks`` on for a
single-tenant server. Links can only appear through a kernel, a terminal or the machine's own
file system, never through our API.

**Atomic saves.**
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
import contextvars
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import Bool


class CollabFileContentsManager(AsyncLargeFileManager):
    """``AsyncLargeFileManager`` that refuses symlinked paths and saves in one rename."""

    follow_symlinks = Bool(
        False,
        help="Serve files through symbolic links. Only safe when everyone may read everything "
        "the links can point to.",
    ).tag(config=True)

    def _get_os_path(self, path: str) -> str:
        os_path: str = super()._get_os_path(path)
        if not self.follow_symlinks and not _listing.get() and self._through_symlink(os_path):
            raise web.HTTPError(404, f"{path} is not served (it goes through a symbolic link)")
        return os_path

    def _through_symlink(self, os_path: str) -> bool:
        # realpath resolves every link on the way (and leaves a missing tail as it is): any
        # difference from the plain path under the real root means a link was followed.
        relative = os.path.relpath(os.path.abspath(os_path), os.path.abspath(self.root_dir))
        expected = os.path.normpath(os.path.join(os.path.realpath(self.root_dir), relative))
        return os.path.realpath(os_path) != expected

    async def _dir_model(self, path: str, content: bool = True) -> dict[str, Any]:
        # jupyter_server builds a listing by getting each child, and one refused child would
        # fail the whole listing: list them all, then leave out the symlinked ones.
        token = _listing.set(True)
        try:
            model: dict[str, Any] = await super()._dir_model(path, content=content)
        finally:
            _listing.reset(token)
        if content and not self.follow_symlinks and isinstance(model.get("content"), list):
            os_path = super()._get_os_path  # the unchecked one
            model["content"] = [
                child
                for child in model["content"]
                if not self._through_symlink(os_path(child["path"]))
            ]
        return model

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


# True while a folder listing is being built (see _dir_model).
_listing: contextvars.ContextVar[bool] = contextvars.ContextVar("listing", default=False)


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once, before any worker thread exists.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
