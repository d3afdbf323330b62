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

**/files/.** jupyter_server serves ``/files/{path}`` (and downloads) with a static file
handler that reads the disk directly, not through the contents manager, so the symlink rule
is applied there too (:class:`GuardedFileHandler`). ``/view/``, ``/nbconvert/`` and the
contents API all resolve paths through :meth:`_get_os_path` and are covered by it.

**Error messages.** jupyter_server names absolute server paths in several errors ("File or
directory does not exist: /srv/…", "Unreadable Notebook: /srv/…", an ``OSError`` inside
"Unexpected error while saving"). Every public operation here maps them back to API paths
(:func:`hide_root`): nobody learns where the root is, or what lies around it.

**Trust.** jupyter_server signs a notebook on save only when every output in it was trusted
when loaded, and warns "Notebook … is not trusted" otherwise — on every save and every load
of a notebook that ever had an output produced elsewhere (and, with collaborative editing,
on nearly every autosave). The warning carries no news, so it is logged at debug level. What
trust means is unchanged: a notebook is signed only when jupyter_server would sign it, and
the signature is what makes a front end render its rich outputs (HTML, JavaScript) as active
content. One saving: a notebook with no rich output at all is not signed, because a signature
would change nothing it displays — and signing walks the whole notebook in pure Python (with
2,000 comment threads in its metadata, half a second on the event loop per save).

**Saving notebooks off the event loop.** jupyter_server converts, checks and signs a notebook
on the event loop before writing it in a thread; for a large notebook that stalls every
other request. Here the conversion and the trust check run in the worker thread too.

Everything else (hooks, checkpoints, hidden files, root dir) is jupyter_server's. Operators
who configure their own ``ServerApp.contents_manager_class`` replace this one entirely.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import nbformat
from anyio.to_thread import run_sync
from jupyter_server.base.handlers import AuthenticatedFileHandler
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import Bool, default


def hide_root(error: web.HTTPError, root_dir: str) -> web.HTTPError:
    """``error``, or a copy of it whose message names API paths (relative to the root)
    instead of absolute paths under ``root_dir``."""
    message = error.get_message()
    if not message:
        return error
    hidden = message
    for root in sorted({os.path.abspath(root_dir), os.path.realpath(root_dir)}, key=len)[::-1]:
        # "/srv/root/a.ipynb" -> "a.ipynb", the root itself -> "" ("/srv/rooted" stays).
        hidden = re.sub(re.escape(root.rstrip("/")) + r"(?:/|(?![\w.-]))", "", hidden)
    if hidden == message:
        return error
    return web.HTTPError(error.status_code, hidden, reason=error.reason)


class GuardedFileHandler(AuthenticatedFileHandler):
    """``/files/{path}``: jupyter_server's file handler, refusing paths through symlinks
    (404) as the contents manager does, unless ``follow_symlinks`` is on."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str:
        manager = self.contents_manager
        # The path as asked for: tornado resolves links before its own check (a link that
        # stays inside the root passes it).
        if isinstance(manager, CollabFileContentsManager) and manager.refuses(absolute_path):
            raise web.HTTPError(404)
        checked: str = super().validate_absolute_path(root, absolute_path)
        return checked


class CollabFileContentsManager(AsyncLargeFileManager):
    """``AsyncLargeFileManager`` that refuses symlinked paths and saves in one rename."""

    follow_symlinks = Bool(
        False,
        help="Serve files through symbolic links. Only safe when everyone may read everything "
        "the links can point to.",
    ).tag(config=True)

    @default("files_handler_class")
    def _files_handler_class_default(self) -> type:
        return GuardedFileHandler

    def refuses(self, os_path: str) -> bool:
        """Is ``os_path`` (absolute, on the server) refused because it goes through a link?"""
        return not self.follow_symlinks and self._through_symlink(os_path)

    def _get_os_path(self, path: str) -> str:
        os_path: str = super()._get_os_path(path)
        if not _listing.get() and self.refuses(os_path):
            raise web.HTTPError(404, f"{path} is not served (it goes through a symbolic link)")
        return os_path

    # -- errors name API paths ----------------------------------------------------------------

    @contextlib.contextmanager
    def _api_paths(self) -> Iterator[None]:
        try:
            yield
        except web.HTTPError as e:
            hidden = hide_root(e, self.root_dir)
            if hidden is e:
                raise
            raise hidden from None

    async def get(
        self,
        path: str,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        require_hash: bool = False,
    ) -> dict[str, Any]:
        with self._api_paths():
            model: dict[str, Any] = await super().get(
                path, content=content, type=type, format=format, require_hash=require_hash
            )
            return model

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        with self._api_paths():
            # jupyter_server answers a missing folder with a 500 naming the file.
            folder = path.strip("/").rpartition("/")[0]
            if folder and not os.path.isdir(self._get_os_path(folder)):
                raise web.HTTPError(404, f"There is no folder {folder!r}: create it first")
            if model.get("type") == "notebook" and "content" in model and not model.get("chunk"):
                return await self._save_notebook_model(model, path)
            saved: dict[str, Any] = await super().save(model, path)
            return saved

    async def _first_checkpoint(self, path: str) -> None:
        """A file's first save gets its first checkpoint (as jupyter_server does). The file is
        written by then: a checkpoint store that cannot write now (a locked or full database)
        must not turn the save into an error; the next explicit checkpoint records it."""
        try:
            if not await self.checkpoints.list_checkpoints(path):
                await self.create_checkpoint(path)
        except Exception as e:
            self.log.warning(
                "No first checkpoint for %s yet: %s", path, getattr(e, "log_message", e)
            )

    async def _save_notebook_model(self, model: dict[str, Any], path: str) -> dict[str, Any]:
        """jupyter_server's ``save`` for a notebook, with the CPU-heavy steps (conversion,
        trust check, signing, writing) in a worker thread."""
        path = path.strip("/")
        self.run_pre_save_hooks(model=model, path=path)
        os_path = self._get_os_path(path)
        validation_error: dict[str, Any] = {}

        # The notary and its signature store (an SQLite connection, bound to the thread that
        # opens it) are made lazily: make them here, on the event loop's thread.
        notary = self.notary
        _ = notary.store

        def prepare() -> tuple[Any, bool]:
            nb = nbformat.from_dict(model["content"])
            return nb, notary.check_cells(nb)  # (also drops cells' "trusted" flags)

        try:
            nb, trusted = await run_sync(prepare)
            # The signature store is an SQLite connection of this thread: sign here.
            self._sign(nb, trusted, path)
            await self._save_notebook(os_path, nb, capture_validation_error=validation_error)
            await self._first_checkpoint(path)
        except web.HTTPError:
            raise
        except Exception as e:
            self.log.error("Error while saving %s: %s", path, type(e).__name__)
            raise web.HTTPError(500, f"Unexpected error while saving {path}: {e}") from e
        self.validate_notebook_model(model, validation_error=validation_error)
        message = model.get("message")
        saved: dict[str, Any] = await self.get(path, content=False)
        if message:
            saved["message"] = message
        self.run_post_save_hooks(model=saved, os_path=os_path)
        self.emit(data={"action": "save", "path": path})
        return saved

    async def delete_file(self, path: str) -> None:
        with self._api_paths():
            await super().delete_file(path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        with self._api_paths():
            await super().rename_file(old_path, new_path)

    async def new(self, model: dict[str, Any] | None = None, path: str = "") -> dict[str, Any]:
        with self._api_paths():
            created: dict[str, Any] = await super().new(model, path)
            return created

    async def copy(self, from_path: str, to_path: str | None = None) -> dict[str, Any]:
        with self._api_paths():
            copied: dict[str, Any] = await super().copy(from_path, to_path)
            return copied

    # -- trust: same decisions, quieter log -----------------------------------------------------

    def check_and_sign(self, nb: Any, path: str = "", *, _retrying: bool = False) -> None:
        self._sign(nb, self.notary.check_cells(nb), path)

    def _sign(self, nb: Any, trusted: bool, path: str, *, retrying: bool = False) -> None:
        # jupyter_server's decision (sign only if every output is trusted), logged at debug.
        if not trusted:
            self.log.debug("Notebook %s is not trusted; saved without a signature", path)
            return
        if not _has_rich_output(nb):
            return  # nothing whose display depends on a signature
        try:
            self.notary.sign(nb)
        except Exception:
            if retrying:
                raise
            self.log.warning("The notebook signature store is unavailable; recreating it")
            self.notary.store = self.notary.store_factory()
            self._sign(nb, trusted, path, retrying=True)

    def mark_trusted_cells(self, nb: Any, path: str = "") -> None:
        trusted = self.notary.check_signature(nb)
        if not trusted:
            self.log.debug("Notebook %s is not trusted: its outputs are not marked trusted", path)
        self.notary.mark_cells(nb, trusted)

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


def _has_rich_output(nb: Any) -> bool:
    """Does any code cell show output whose rendering depends on trust (nbformat's rule:
    an execute_result or display_data with data)?"""
    safe = {"output_type", "execution_count", "metadata"}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind in ("execute_result", "display_data") and set(output) - safe:
                return True
    return False


# True while a folder listing is being built (see _dir_model).
_listing: contextvars.ContextVar[bool] = contextvars.ContextVar("listing", default=False)


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once, before any worker thread exists.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
