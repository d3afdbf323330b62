"""Rooms: one per document (or the global presence room), in three modes.

* :class:`PresenceRoom` — presence only (``JupyterLab:globalAwareness``): no document
  content, clients' updates dropped.
* :class:`DocumentRoom` — a server-authoritative document (a kind registered with
  ``file_backed=False``, e.g. comments): stored like every document, changed only through
  :meth:`DocumentRoom.apply_server_change`; clients' updates are dropped whatever their rights.
* :class:`FileRoom` — a file-backed document (notebooks, text files): clients with ``write``
  edit it, and :class:`~.filesync.FileSync` saves it to its file and merges outside changes.

Each room is built from parts with one job each: a :class:`~.fanout.FanOut` (who is
connected, delivery), :class:`~.presence.Presence` (awareness), a
:class:`~.pipeline.DocumentPipeline` (apply → persist → publish) and, for files, the
:class:`~.filesync.FileSync`. The room itself dispatches a connection's messages to them and
runs the lifecycle:

``start()`` loads the document (from the store, merging any change made to the file while
the room was closed; or deterministically from the file the first time); connections
``join`` and ``leave``; ``stop()`` saves and detaches. The room manager decides when to start
and stop rooms. ``delete()`` closes a room whose file was deleted for good (4404, after a RAW
``deleted`` error; no save; the stored document is forgotten). A store that refuses a batch
closes every connection (1011, ``{"reason":"store_unavailable"}``) and the manager drops the
room, so it reloads from the store. A stored row that cannot be applied on load is moved to
the quarantine table and the file is loaded instead.

What features use (see also :mod:`.events` for observers):

* ``room.apply_server_change(source, fn)`` — ``fn(doc)`` in one transaction, stored and
  broadcast when this returns (held while the database is locked), autosaved to the file;
* ``room.send_raw(message, to=None)`` — a RAW JSON message to the room's connections;
* ``room.doc`` (read it; change it only through ``apply_server_change``), ``room.address``,
  ``room.path``, ``room.connections``; ``FileRoom.read_file()``, ``save(reason)``,
  ``request_save()``.

Authorization happens per message: a connection without ``write`` still receives everything
and may send STEP1 and awareness, but its STEP2/UPDATE/``save`` never reach the document.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, Map, get_update

from ..core.db import storage_problem
from .address import RoomAddress
from .awareness import AwarenessLimits
from .disk import DiskFile
from .document import DocumentKind, deterministic_load
from .errors import FileMissing, StoreUnavailable
from .events import Observers, PersistedBatch, Source
from .fanout import Connection, FanOut, LocalFanOut
from .filesync import FileFilter, FileSync
from .pipeline import EMPTY_UPDATE, DocumentPipeline, reraise_if_fatal
from .presence import Presence
from .protocol import (
    AwarenessMessage,
    Message,
    QueryAwareness,
    RawMessage,
    SaveRequest,
    SyncMessage,
    SyncType,
    raw_json,
    sync_reply,
    sync_step1,
)
from .store import StoredDocument, UpdateStore, decode_saved


@dataclass
class RoomSettings:
    save_delay: float = 1.0  # seconds after the last change
    max_save_interval: float = 10.0  # save at least this often while people keep typing
    poll_interval: float = 1.0  # how often to look for changes made outside the server
    compact_max_updates: int = 1000
    compact_min_bytes: int = 64 * 1024
    # Compaction encodes the whole document and rewrites its snapshot on the event loop: in a
    # room whose log outgrows a large snapshot every second (a cell streaming output) that
    # stalls everyone's typing. At most one compaction per interval for large documents
    # (measured: 20 typing clients beside a cell printing 1 MB/s, p99 138 → 43 ms with
    # compaction out of the way).
    compact_min_interval: float = 10.0
    compact_large_bytes: int = 256 * 1024  # the interval applies to snapshots above this
    # Broadcast coalescing. Every broadcast costs one socket write per connection, so in a
    # crowded room updates are gathered for a moment and sent as one message: the window
    # grows with the room (30 µs per connection, at most 5 ms) and is zero in rooms of up to
    # 16 people, where each update goes out on the next loop tick. Measured with 100 typing
    # clients: p99 66 → 45 ms for +3 ms at p50 (bench/).
    coalesce_from: int = 16
    coalesce_per_connection: float = 30e-6
    coalesce_max: float = 0.005

    # Presence: limits per state and per connection, a rate per connection (token bucket:
    # over the rate the latest state waits for a token, so only frequency is lost), and a
    # window in which a room's awareness changes are gathered into one frame.
    awareness: AwarenessLimits = field(default_factory=AwarenessLimits)
    awareness_rate: float = 10.0
    awareness_burst: float = 20.0
    awareness_window: float = 0.05
    # A locked database: keep the batch (held from everyone) and retry for this long.
    store_retry: float = 10.0
    # A failing save is reported to writers at most this often.
    save_failure_interval: float = 5.0

    def coalesce_window(self, connections: int) -> float:
        if connections <= self.coalesce_from:
            return 0.0
        return min(self.coalesce_max, connections * self.coalesce_per_connection)


class Room:
    """What every room does: connections, presence, dispatching messages, the lifecycle."""

    def __init__(
        self,
        address: RoomAddress,
        *,
        settings: RoomSettings,
        log: logging.Logger,
        observers: Observers | None = None,
        fanout: FanOut | None = None,
        presence: str = "all",
        awareness_limits: AwarenessLimits | None = None,
    ) -> None:
        self.address = address
        self.room_id = address.room_id
        self.settings = settings
        self.log = log
        self.observers = observers or Observers(log)
        self.fanout: FanOut = fanout or LocalFanOut()
        self.presence = Presence(
            self.room_id,
            fanout=self.fanout,
            settings=settings,
            log=log,
            mode=presence,
            limits=awareness_limits,
        )
        self.doc: Doc = Doc()
        self.stopped = False
        self.deleted = False
        # Set by the manager: the store failed (drop the room), the file vanished.
        self.on_store_failed: Callable[[Room], None] | None = None
        self.on_file_gone: Callable[[Room], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def connections(self) -> set[Connection]:
        return self.fanout.connections

    @property
    def path(self) -> str | None:
        """The file's current path (file-backed rooms), else None."""
        return None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self.observers.room_opened(self)

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self._cancel_background()
        self.observers.room_closed(self)

    def _cancel_background(self) -> None:
        """Stop timers and tasks (no save, no store write)."""
        self.presence.close()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    def delete(self, message: str) -> None:
        """The file was deleted: tell everyone, close every connection (4404) and stop for
        good — nothing is saved (that would recreate the file)."""
        if self.deleted:
            return
        self.deleted = True
        self.stopped = True
        self._cancel_background()
        self._close_all(
            raw_json({"type": "error", "reason": "deleted", "message": message}),
            FileMissing.close,
            '{"reason":"deleted"}',
        )
        self._forget()
        self.log.info("Room %s closed: its file was deleted", self.room_id)
        self.observers.room_closed(self)

    def _forget(self) -> None:
        """Drop what is stored of this room (its file was deleted)."""

    def _close_all(self, notice: bytes, code: int, reason: str) -> None:
        for conn in list(self.connections):
            conn.send(notice)
            conn.close(code, reason)

    # -- connections ----------------------------------------------------------------------

    def join(self, conn: Connection) -> None:
        self.fanout.add(conn)
        self._before_join(conn)
        conn.send(sync_step1(self.doc.get_state()))
        present = self.presence.snapshot_for(conn)
        if present is not None:
            conn.send(present)
        self.observers.joined(self, conn)

    def _before_join(self, conn: Connection) -> None: ...

    def leave(self, conn: Connection) -> None:
        self.fanout.remove(conn)
        self.presence.remove(conn)
        self.observers.left(self, conn)

    def send_raw(
        self, message: dict[str, Any], to: Callable[[Connection], bool] | None = None
    ) -> None:
        """Send a RAW JSON message to the room's connections (those ``to`` accepts)."""
        frame = raw_json(message)
        if to is None:
            self.fanout.publish(frame)
        else:
            self.fanout.send_to(frame, to)

    def handle(self, conn: Connection, message: Message) -> Awaitable[None] | None:
        """Act on one decoded message from ``conn``.

        Returns an awaitable for the slow cases (a save) so the caller can run it without
        blocking the socket. Raises :class:`ProtocolError` for a malformed payload.
        """
        if isinstance(message, SyncMessage):
            if message.subtype == SyncType.STEP1:
                self._answer_step1(conn, message.payload)
            elif message.payload == EMPTY_UPDATE:
                pass  # a client's STEP2 reply when it has nothing we lack
            elif not conn.can_write or not self._accepts_client_updates():
                # A page's own (read-only) client replies to our STEP1 with what it has: if
                # that adds nothing, it is no attempt to write and not worth a warning.
                level = logging.WARNING if self._adds_content(message.payload) else logging.DEBUG
                self.log.log(
                    level,
                    "Dropped an update from %s in %s: no write permission",
                    conn.label,
                    self.room_id,
                )
            elif not (self.deleted or self.stopped):
                self._apply_client_update(conn, message.payload)
            return None
        if isinstance(message, AwarenessMessage):
            self.presence.receive(conn, message.payload)
            return None
        if isinstance(message, QueryAwareness):
            present = self.presence.snapshot_for(conn)
            if present is not None:
                conn.send(present)
            return None
        if isinstance(message, SaveRequest):
            return self._answer_save(conn, message.request_id)
        if isinstance(message, RawMessage):
            self.log.debug("Ignored a RAW message %r from %s", message.text[:40], conn.label)
        return None

    def _answer_step1(self, conn: Connection, state_vector: bytes) -> None:
        conn.send(sync_reply(self.doc, state_vector))

    def _accepts_client_updates(self) -> bool:
        return False

    def _adds_content(self, update: bytes) -> bool:
        return True

    def _apply_client_update(self, conn: Connection, update: bytes) -> None:
        raise NotImplementedError

    async def _answer_save(self, conn: Connection, request_id: int) -> None:
        self.log.warning("Refused a save from %s: no write permission", conn.label)
        conn.send(raw_json({"type": "save", "responseTo": request_id, "status": "failed"}))

    # -- helpers --------------------------------------------------------------------------

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except BaseException as e:  # pycrdt panics are BaseExceptions
                reraise_if_fatal(e)
                self.log.exception("Background work in room %s failed", self.room_id)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class PresenceRoom(Room):
    """The global presence room: awareness only."""


class DocumentRoom(Room):
    """A stored document that only the server changes (see the module docstring)."""

    def __init__(self, address: RoomAddress, *, store: UpdateStore, **options: Any) -> None:
        super().__init__(address, **options)
        assert address.kind is not None
        self.kind: DocumentKind = address.kind
        self.store = store
        self.lineage: str | None = None
        self.pipeline: DocumentPipeline | None = None
        self._sources: dict[Connection, Source] = {}

    async def start(self) -> None:
        stored = self._load_stored()
        self.lineage = stored.lineage
        self._attach()
        await super().start()

    def _attach(self, observe: bool = True) -> DocumentPipeline:
        """The pipeline of this room's document (observing it unless ``observe`` is False:
        a first load is no change)."""
        self.pipeline = DocumentPipeline(
            self.room_id,
            self.doc,
            store=self.store,
            fanout=self.fanout,
            settings=self.settings,
            log=self.log,
            spawn=self._spawn,
            on_persisted=self._persisted,
            on_failed=self._store_failed,
        )
        if observe:
            self.pipeline.attach()
        return self.pipeline

    def _load_stored(self) -> StoredDocument:
        """The stored document, applied to ``self.doc``.

        A snapshot or logged update that cannot be applied (a damaged row) must not make the
        document unopenable forever: the rows are moved aside to the quarantine table (kept
        for inspection, not deleted) and the document starts over from its file, under a
        new lineage so that no client merges its old state into the fresh one.
        """
        stored = self.store.load(self.room_id)
        try:
            if stored.snapshot is not None:
                self.doc.apply_update(stored.snapshot)
            for update in stored.updates:
                self.doc.apply_update(update)
            return stored
        except BaseException as e:  # pycrdt panics are BaseExceptions
            reraise_if_fatal(e)
            error = type(e).__name__
        rows = self.store.quarantine(self.room_id, f"cannot apply: {error}")
        self.log.error(
            "The stored document of room %s is damaged (%s): moved %d rows (%s) to the"
            " quarantine table; reloading it from its file",
            self.room_id,
            error,
            len(rows),
            ", ".join(rows),
        )
        self.doc = Doc()
        return self.store.load(self.room_id)

    async def stop(self) -> None:
        """Save what is unsaved and detach from the document (and the file)."""
        if self.stopped:
            return
        self.stopped = True
        await self._before_stop()
        if self.pipeline is not None:
            self.pipeline.compact()
        self._cancel_background()
        self.observers.room_closed(self)

    async def _before_stop(self) -> None: ...

    def _cancel_background(self) -> None:
        super()._cancel_background()
        if self.pipeline is not None:
            self.pipeline.detach()

    def delete(self, message: str) -> None:
        if self.pipeline is not None and not self.deleted:
            self.pipeline.close()
        super().delete(message)

    def _forget(self) -> None:
        try:
            self.store.forget(self.room_id)
        except (sqlite3.Error, StoreUnavailable) as e:
            self.log.error("Forgetting the stored room %s failed: %s", self.room_id, e)

    def _store_failed(self, error: str) -> None:
        """The store refused a batch the document already holds. The document must not run
        ahead of the store: close every connection (they resync on reconnect and resend what
        the store lacks) and let the manager drop this room, so it reloads from the store."""
        self.log.error(
            "Cannot store changes of room %s (%s): closing its %d connections; it reloads"
            " from the store when the database accepts writes again",
            self.room_id,
            error,
            len(self.connections),
        )
        self.stopped = True  # no save of a state the store does not hold
        self._cancel_background()
        self._close_all(
            raw_json(
                {
                    "type": "error",
                    "reason": "store_unavailable",
                    "message": "The server cannot store changes right now. Reconnecting…",
                }
            ),
            StoreUnavailable.close,
            json.dumps({"reason": StoreUnavailable.reason}, separators=(",", ":")),
        )
        if self.on_store_failed is not None:
            self.on_store_failed(self)
        self.observers.room_closed(self)

    def _persisted(self, batch: PersistedBatch) -> None:
        self.observers.persisted(self, batch)

    # -- changes ----------------------------------------------------------------------------

    def apply_server_change(self, source: Source, fn: Callable[[Doc], None]) -> bool:
        """Run ``fn(doc)`` in one transaction as ``source``: stored and broadcast when this
        returns (held while the database is locked), and autosaved to the file if the room
        has one. False (nothing done) if the room is closed."""
        pipeline = self.pipeline
        if pipeline is None or pipeline.closed or self.stopped:
            self.log.debug("%s: a change by %s dropped, the room is closed", self.room_id, source)
            return False
        pipeline.apply(source, fn)
        return True

    def flush(self) -> None:
        """Store and broadcast every queued change now."""
        if self.pipeline is not None:
            self.pipeline.flush()

    def join(self, conn: Connection) -> None:
        self._sources[conn] = Source.client(conn)
        super().join(conn)

    def _before_join(self, conn: Connection) -> None:
        self.flush()  # never show a joining client anything that is not yet stored

    def leave(self, conn: Connection) -> None:
        self._sources.pop(conn, None)
        super().leave(conn)

    def _answer_step1(self, conn: Connection, state_vector: bytes) -> None:
        if self.pipeline is None:
            super()._answer_step1(conn, state_vector)
        else:
            self.pipeline.answer_step1(conn, state_vector)

    def _adds_content(self, update: bytes) -> bool:
        """Whether ``update`` holds items this document lacks (deletions are not looked at:
        this only decides how loudly a refused update is logged)."""
        try:
            missing = get_update(update, self.doc.get_state())
        except BaseException as e:
            reraise_if_fatal(e)
            return True
        return not missing.startswith(b"\x00")


class FileRoom(DocumentRoom):
    """A document loaded from and saved to its file; clients with ``write`` edit it."""

    def __init__(
        self,
        address: RoomAddress,
        *,
        disk: DiskFile,
        store: UpdateStore,
        filters: list[FileFilter] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(address, store=store, **options)
        self.disk = disk
        self.filters = list(filters or [])
        self.sync: FileSync | None = None

    @property
    def path(self) -> str:
        return self.disk.path

    def follow_move(self, old: str, new: str) -> bool:
        """The file (or a folder above it) moved: keep saving to its new path."""
        from ..core.paths import moved

        target = moved(self.disk.path, old, new)
        if target is None:
            return False
        self.disk.path = target
        return True

    async def read_file(self) -> Any:
        """The file's current content (raises a :class:`~.errors.FileLoadError`)."""
        return (await self.disk.load()).content

    async def start(self) -> None:
        """Load the document; raises a :class:`~.errors.FileLoadError` if the file is
        unusable."""
        loaded = await self.disk.load()
        stored = self._load_stored()
        self.lineage = stored.lineage
        pipeline = self._attach(observe=False)
        sync = FileSync(
            self,
            disk=self.disk,
            kind=self.kind,
            store=self.store,
            pipeline=pipeline,
            settings=self.settings,
            log=self.log,
            filters=self.filters,
            spawn=self._spawn,
            notify_writers=lambda frame: self.fanout.send_to(frame, _can_write),
            on_saved=lambda path, content, reason: self.observers.file_saved(
                self, path, content, reason
            ),
            on_merged=lambda content: self.observers.outside_change_merged(self, content),
            on_file_gone=self._file_gone,
        )
        self.sync = sync
        pipeline.on_edit = sync.note_edit
        if stored.empty:
            first_load = deterministic_load(self.kind, sync.strip(loaded.content))
            self.doc.apply_update(first_load)
            # It is the whole document; the file as loaded is the content last saved.
            self.store.first_load(self.room_id, first_load, loaded.hash, loaded.content)
            sync.start(loaded, lambda: loaded.content, loaded.hash)
            self.log.info("Loaded %s from the file", self.path)
        else:
            # (Only the compressed copy is kept meanwhile, not the stored document.)
            saved_blob = stored.saved_blob
            sync.start(loaded, lambda: decode_saved(saved_blob), stored.saved_hash)
            self.log.info(
                "Loaded %s from the store (%d logged updates)", self.path, len(stored.updates)
            )
        pipeline.attach()
        if not stored.empty:
            # The ``dirty`` flag is stored with every other update: if it is set, the server
            # stopped (or crashed) before saving, and the room holds changes the file lacks.
            if self.doc.get("state", type=Map).get("dirty") is True:
                sync.resume_unsaved()
            if loaded.hash != stored.saved_hash:
                sync.merge_from_disk(loaded.content, loaded.hash)
        pipeline.flush()
        sync.start_polling()
        self.observers.room_opened(self)

    def _file_gone(self) -> None:
        if self.on_file_gone is not None:
            self.on_file_gone(self)

    async def _before_stop(self) -> None:
        if self.sync is not None:
            await self.sync.stop()
            await self.save("close")

    def _cancel_background(self) -> None:
        if self.sync is not None:
            self.sync.cancel()
        super()._cancel_background()

    def _persisted(self, batch: PersistedBatch) -> None:
        if batch.edit and self.sync is not None:
            self.sync.schedule_save()
        super()._persisted(batch)

    async def save(self, reason: str) -> str:
        """Write the document to its file if it changed; returns the ``save`` reply status."""
        if self.sync is None or self.deleted:
            return "skipped"
        return await self.sync.save(reason)

    def request_save(self) -> None:
        """Something the file carries besides the document changed (comments): save soon."""
        if self.sync is not None and not self.stopped:
            self.sync.request_save()

    # -- client messages ------------------------------------------------------------------

    def _accepts_client_updates(self) -> bool:
        return True

    def _apply_client_update(self, conn: Connection, update: bytes) -> None:
        assert self.pipeline is not None
        source = self._sources.get(conn) or Source.client(conn)
        self.pipeline.apply_update(source, update)

    def leave(self, conn: Connection) -> None:
        super().leave(conn)
        if not self.connections and not self.stopped:
            self._spawn(self.save("last client left"))

    async def _answer_save(self, conn: Connection, request_id: int) -> None:
        if not conn.can_write:
            await super()._answer_save(conn, request_id)
            return
        source = self._sources.get(conn) or Source.client(conn)
        self.observers.save_requested(self, source)
        try:
            status = await self.save("requested")
        except Exception as e:
            problem = storage_problem(e)
            if problem is None:
                self.log.exception("Saving %s failed", self.path)
            else:  # expected while the disk is full or locked: the save is retried
                self.log.error("Saving %s failed (%s)", self.path, problem)
            status = "failed"
        conn.send(raw_json({"type": "save", "responseTo": request_id, "status": status}))


def _can_write(conn: Connection) -> bool:
    return conn.can_write
