"""File sync of one file-backed room: saving the document to its file, and merging changes
made to the file outside the server.

* **Saving** on a debounce after the last edit (``save_delay``, bounded by
  ``max_save_interval`` so continuous typing still saves), on request (a RAW ``save``), when
  the last client leaves, and on close; one save at a time (the save lock), never from a
  state the store does not hold. An edit is a change from any source but the file itself and
  the room's bookkeeping (see :class:`~.events.Source`): a kernel's outputs are saved too.
  The document's ``state.dirty`` flag is set with the first edit (stored with it) and cleared
  after a save, so a restart knows whether the file lacks changes.
* **File filters** (:class:`FileFilter`) keep parts of the file out of the document (a
  notebook's comments) and put them back on every save.
* **Outside changes**: the file is polled every ``poll_interval``; a changed file is merged
  into the live document cell by cell (three-way, against the last saved content). A file
  gone on two polls in a row is reported (``on_file_gone``).
* A failed save is logged and pushed to writers as RAW ``save_failed`` (at most once per
  ``save_failure_interval``) and retried; the next successful save pushes ``saved``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from pycrdt import Doc, Map

from .disk import DiskFile, LoadedFile
from .document import DocumentKind, merge_external_change, read_content
from .events import DISK, ROOM
from .pipeline import DocumentPipeline, reraise_if_fatal
from .protocol import raw_json
from .store import UpdateStore

if TYPE_CHECKING:
    from .room import FileRoom, RoomSettings


class FileFilter(Protocol):
    """Keeps part of a file out of the shared document and puts it back on every save."""

    def strip(self, content: Any) -> Any:
        """``content`` without what the filter owns (a copy; ``content`` is not changed)."""
        ...

    async def before_save(self, room: FileRoom, content: Any) -> Any:
        """The file content to write for the document content ``content``."""
        ...


class FileSync:
    """Between one room's document and its file."""

    def __init__(
        self,
        room: FileRoom,
        *,
        disk: DiskFile,
        kind: DocumentKind,
        store: UpdateStore,
        pipeline: DocumentPipeline,
        settings: RoomSettings,
        log: logging.Logger,
        filters: list[FileFilter],
        spawn: Callable[[Awaitable[Any]], None],
        notify_writers: Callable[[bytes], None],
        on_saved: Callable[[str, Any, str], None],
        on_merged: Callable[[Any], None],
        on_file_gone: Callable[[], None],
    ) -> None:
        self.room = room
        self.disk = disk
        self.kind = kind
        self.store = store
        self.pipeline = pipeline
        self.settings = settings
        self.log = log
        self.filters = filters
        self._spawn = spawn
        self._notify_writers = notify_writers
        self._on_saved = on_saved
        self._on_merged = on_merged
        self._on_file_gone = on_file_gone
        self.stopped = False
        # ``_version`` counts edits; ``_saved_version`` is the version the file holds.
        self._version = 0
        self._saved_version = 0
        self._first_unsaved_at: float | None = None
        self._save_timer: asyncio.TimerHandle | None = None
        self._save_lock = asyncio.Lock()
        self._saved_content: Any = None
        self._saved_loader: Callable[[], Any] | None = None  # until first needed
        self._saved_hash: str | None = None
        self._disk_modified: Any = None
        self._force_write = False
        self._save_failed_at: float | None = None
        self._save_failure_reported = False
        self._missing_polls = 0
        self._poller: asyncio.Task[None] | None = None

    @property
    def room_id(self) -> str:
        return self.room.room_id

    @property
    def doc(self) -> Doc:
        return self.pipeline.doc

    # -- opening and closing ---------------------------------------------------------------

    def start(
        self, loaded: LoadedFile, saved_content: Callable[[], Any], saved_hash: str | None
    ) -> None:
        """Begin from the file as loaded and the content the file held at the last save
        (``saved_content`` gives it when first needed: a save or a merge)."""
        self._saved_loader, self._saved_hash = saved_content, saved_hash
        self._disk_modified = loaded.modified

    @property
    def saved_content(self) -> Any:
        """What the file held at the last save (or load): the base of three-way merges, and
        what an unchanged document is compared with before writing."""
        if self._saved_loader is not None:
            self._saved_content, self._saved_loader = self._saved_loader(), None
        return self._saved_content

    def _set_saved(self, content: Any, content_hash: str | None) -> None:
        self._saved_content, self._saved_loader, self._saved_hash = content, None, content_hash

    def resume_unsaved(self) -> None:
        """The stored document holds changes the file lacks (the server stopped first)."""
        self._version = 1
        self.schedule_save()

    def start_polling(self) -> None:
        self._poller = asyncio.create_task(self._poll_disk())

    async def stop(self) -> None:
        """Stop polling and timers (no save)."""
        self.stopped = True
        if self._save_timer is not None:
            self._save_timer.cancel()
            self._save_timer = None
        if self._poller is not None:
            self._poller.cancel()
            if self._poller is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError):
                    await self._poller

    def cancel(self) -> None:
        """Stop polling and timers now (no save, no wait)."""
        self.stopped = True
        if self._save_timer is not None:
            self._save_timer.cancel()
            self._save_timer = None
        if self._poller is not None:
            self._poller.cancel()

    def strip(self, content: Any) -> Any:
        if content is None:
            return content
        for file_filter in self.filters:
            content = file_filter.strip(content)
        return content

    # -- edits and saving ---------------------------------------------------------------------

    def note_edit(self) -> None:
        """A batch with edits is about to be stored: one more version to save, and the
        document is marked dirty (the flag is stored in the same batch)."""
        self._version += 1
        state = self.doc.get("state", type=Map)
        if state.get("dirty") is not True:
            with self.pipeline.writing(ROOM):
                state["dirty"] = True

    def request_save(self) -> None:
        """Something the file carries besides the document changed: save soon."""
        if self.stopped:
            return
        self._version += 1
        self.schedule_save()

    def schedule_save(self) -> None:
        now = time.monotonic()
        if self._first_unsaved_at is None:
            self._first_unsaved_at = now
        if self._save_timer is not None:
            self._save_timer.cancel()
        overdue = now - self._first_unsaved_at >= self.settings.max_save_interval
        delay = 0.0 if overdue else self.settings.save_delay
        self._save_timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(self.save("autosave"))
        )

    async def save(self, reason: str) -> str:
        """Write the document to its file if it changed; returns the ``save`` reply status."""
        if self.pipeline.closed:
            return "skipped"
        if self.pipeline.retrying:
            # Never write the file from a state the store does not hold yet: try again later.
            if not self.stopped:
                self.schedule_save()
            return "skipped"
        async with self._save_lock:
            if self._save_timer is not None:
                self._save_timer.cancel()
                self._save_timer = None
            self.pipeline.flush()
            version = self._version
            if version == self._saved_version and reason != "requested":
                return "skipped"  # nothing changed here since the last save
            content = read_content(self.kind, self.doc)
            for file_filter in self.filters:
                content = await file_filter.before_save(self.room, content)
            if content == self.saved_content and not self._force_write:
                self._saved_version = version
                self._set_clean(version)
                return "skipped"
            try:
                content_hash, modified = await self.disk.save(content)
            except Exception as e:
                self._report_save_failure(e)
                # The file may or may not hold this content now: write it next time whatever
                # it looks like, and do not take our own half-done write for an outside change.
                self._force_write = True
                with contextlib.suppress(Exception):
                    self._disk_modified = await self.disk.modified()
                if not self.stopped and self._save_timer is None:
                    self._save_timer = asyncio.get_running_loop().call_later(
                        self.settings.save_failure_interval,
                        lambda: self._spawn(self.save("retry")),
                    )
                raise
            self._force_write = False
            if self._save_failure_reported:
                self._save_failure_reported = False
                self._save_failed_at = None
                self._notify_writers(raw_json({"type": "saved"}))
            self.store.mark_saved(self.room_id, content_hash, content)
            self._set_saved(content, content_hash)
            self._disk_modified = modified
            self._saved_version = version
            self._set_clean(version)
            self.log.info("Saved %s (%s)", self.disk.path, reason)
            self._on_saved(self.disk.path, content, reason)
            return "success"

    def _report_save_failure(self, error: Exception) -> None:
        """Log a failed save and tell the writers (at most once per interval)."""
        now = time.monotonic()
        if (
            self._save_failed_at is not None
            and now - self._save_failed_at < self.settings.save_failure_interval
        ):
            return
        self.log.error(
            "Saving %s (room %s) failed: %s",
            self.disk.path,
            self.room_id,
            self.disk.describe(error),
        )
        self._save_failed_at = now
        self._save_failure_reported = True
        self._notify_writers(
            raw_json(
                {
                    "type": "save_failed",
                    "message": "Saving this notebook to its file failed; your changes are"
                    " kept on the server and saving is retried.",
                }
            )
        )

    def _set_clean(self, version: int) -> None:
        if self._version != version:
            return  # changed while we were writing: still dirty, and another save is due
        self._first_unsaved_at = None
        state = self.doc.get("state", type=Map)
        if state.get("dirty") is not False:
            with self.pipeline.writing(ROOM):
                state["dirty"] = False
        self.pipeline.flush()

    # -- changes made outside the server ----------------------------------------------------

    async def _poll_disk(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            try:
                modified = await self.disk.modified()
                if modified is None:
                    # Gone from disk (deleted outside the server, or by a path the contents
                    # events do not report). Twice in a row, so that a rename in flight
                    # (whose event moves ``disk.path``) is not taken for a deletion.
                    self._missing_polls += 1
                    if self._missing_polls >= 2:
                        self._on_file_gone()
                        return
                    continue
                self._missing_polls = 0
                if modified == self._disk_modified:
                    continue
                async with self._save_lock:
                    loaded = await self.disk.load()
                    self._disk_modified = loaded.modified
                    if loaded.hash != self._saved_hash:
                        self.merge_from_disk(loaded.content, loaded.hash)
            except BaseException as e:  # pycrdt panics are BaseExceptions
                reraise_if_fatal(e)
                self.log.exception("Checking %s for outside changes failed", self.disk.path)

    def merge_from_disk(self, content: Any, content_hash: str | None) -> None:
        with self.pipeline.writing(DISK):
            report = merge_external_change(
                self.kind, self.doc, self.strip(self.saved_content), self.strip(content)
            )
        self.log.info(
            "Merged an outside change to %s: %d cells added, %d removed, %d changed"
            " (%d also edited here), metadata %s",
            self.disk.path,
            report.added,
            report.removed,
            report.changed,
            report.conflicts,
            "changed" if report.metadata else "unchanged",
        )
        self._set_saved(content, content_hash)
        self.store.mark_saved(self.room_id, content_hash, content)
        self.pipeline.flush()
        if self._version == self._saved_version:
            self._set_clean(self._version)
        self._on_merged(content)
