"""One room: a shared document, the connections editing it, and its presence.

Lifecycle: ``start()`` loads the document (from the store, merging any change made to the
file while the room was closed; or deterministically from the file the first time), then
connections ``join`` and ``leave``; ``stop()`` saves and detaches. The room manager decides
when to start and stop rooms.

The path of an accepted change, and why it is in this order:

1. ``handle`` applies a client's update to the document (a malformed update is refused
   there, before anything else sees it); the document observer queues the *effective*
   update the transaction produced, whoever made it (a client, a merge from disk, the
   server's own ``dirty`` flag).
2. ``flush`` runs once per event-loop tick: it appends everything queued to the store in
   **one** transaction, and only then broadcasts it — so a `kill -9` can never lose a change
   that any client has seen. Updates queued in one tick go out as one merged message, framed
   once and written to every socket.
3. The file is saved on a debounce after the last change (bounded, so continuous typing still
   saves), on a client's ``save`` request, when the last client leaves, and on shutdown.

When the store refuses a batch, the document never runs ahead of it: a locked database
(another process) holds the batch — and every STEP1 answer and save — and retries for
``store_retry`` seconds off the hot path; any other failure, or a lock held longer, closes
every connection (1011, ``{"reason":"store_unavailable"}``) and the manager drops the room,
so it reloads from the store and clients resend what the store lacks. A stored row that
cannot be applied on load is moved to the quarantine table and the file is loaded instead.

A deleted file (contents API, or gone from disk on two polls in a row) closes the room for
good (4404, after a RAW ``deleted`` error): no save on close, and the stored document is
forgotten. A failed save is logged and pushed to writers as RAW ``save_failed`` (at most
once per ``save_failure_interval``); the next successful save pushes ``saved``.

Presence is rewritten by :class:`~.awareness.AwarenessTable`, limited per connection with a
token bucket (latest state wins), and sent once per ``awareness_window`` as one frame.

Authorization happens per message: a connection without ``write`` still receives everything
and may send STEP1 and awareness, but its STEP2/UPDATE/``save`` never reach the document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pycrdt import Doc, Map, TransactionEvent, get_update, merge_updates

from .awareness import AwarenessLimits, AwarenessTable, TokenBucket
from .disk import DiskFile
from .document import DocumentKind, deterministic_load, merge_external_change, read_content
from .protocol import (
    AwarenessMessage,
    Message,
    ProtocolError,
    QueryAwareness,
    RawMessage,
    SaveRequest,
    SyncMessage,
    SyncType,
    awareness_frame,
    encode_awareness,
    raw_json,
    sync_step1,
    sync_step2,
    sync_update,
)
from .store import StoreBusy, StoredDocument, StoreUnavailable, UpdateStore

_EMPTY_UPDATE = b"\x00\x00"


class FileFilter(Protocol):
    """Keeps part of a notebook file out of the shared document (comments live in a room of
    their own) and puts it back on every save."""

    def strip(self, content: Any) -> Any:
        """``content`` without what the filter owns (a copy; ``content`` is not changed)."""
        ...

    async def before_save(self, room: Room, content: Any) -> Any:
        """The file content to write for the document content ``content``."""
        ...


class Connection(Protocol):
    """What a room needs from a client connection (the websocket handler implements it)."""

    user: dict[str, Any]  # the verified identity, pinned into awareness
    can_write: bool
    label: str  # for log lines: who and from where, never a token

    def send(self, frame: bytes) -> None: ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


@dataclass
class RoomSettings:
    save_delay: float = 1.0  # seconds after the last change
    max_save_interval: float = 10.0  # save at least this often while people keep typing
    poll_interval: float = 1.0  # how often to look for changes made outside the server
    compact_max_updates: int = 1000
    compact_min_bytes: int = 64 * 1024
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
    """A document room (``kind`` set) or a presence-only room (``kind`` None)."""

    def __init__(
        self,
        room_id: str,
        *,
        kind: DocumentKind | None,
        disk: DiskFile | None,
        store: UpdateStore | None,
        settings: RoomSettings,
        log: logging.Logger,
        server_authoritative: bool = False,
        file_filter: FileFilter | None = None,
        presence: str = "all",
        awareness_limits: AwarenessLimits | None = None,
    ) -> None:
        self.room_id = room_id
        self.kind = kind
        self.disk = disk
        self.store = store
        # Only the server changes a server-authoritative document (clients' updates are
        # dropped whatever their rights); it has no file of its own.
        self.server_authoritative = server_authoritative
        self.file_filter = file_filter
        self.settings = settings
        self.log = log
        self.doc: Doc = Doc()
        self.awareness = AwarenessTable(awareness_limits or settings.awareness)
        # "all": every state goes to everyone; "self": each connection only gets its own
        # states back (the global presence room, where people of other tenants meet).
        self.presence = presence
        self.connections: set[Connection] = set()
        self.lineage: str | None = None
        # Called (by the poller) when the file vanished from disk while the room is open.
        self.on_file_gone: Callable[[Room], None] | None = None
        # Called when the store failed: the manager drops the room and refuses to reopen it.
        self.on_store_failed: Callable[[Room], None] | None = None
        self.deleted = False

        self._buckets: dict[Connection, TokenBucket] = {}
        self._held_awareness: dict[Connection, bytes] = {}
        self._awareness_timer: asyncio.TimerHandle | None = None
        self._warned: set[Connection] = set()
        self._store_retrying = False
        self._held_step1: list[tuple[Connection, bytes]] = []
        self._save_failed_at: float | None = None
        self._save_failure_reported = False
        self._missing_polls = 0
        self._force_write = False

        self._queue: list[tuple[Connection | None, bytes]] = []
        self._flush_scheduled = False
        self._origin: Connection | None = None
        self._subscription: Any = None

        # Saving: ``_version`` counts accepted client changes; ``_saved_version`` is the
        # version the file on disk holds.
        self._version = 0
        self._saved_version = 0
        self._first_unsaved_at: float | None = None
        self._save_timer: asyncio.TimerHandle | None = None
        self._save_lock = asyncio.Lock()
        self._saved_content: Any = None
        self._saved_hash: str | None = None
        self._disk_modified: Any = None
        self._compaction_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None
        self.stopped = False

    @property
    def is_document(self) -> bool:
        return self.kind is not None

    @property
    def path(self) -> str | None:
        return self.disk.path if self.disk else None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the document; raises :class:`~.disk.FileLoadError` if the file is unusable."""
        if self.kind is None:
            self._subscription = self.doc.observe(self._on_transaction)
            return
        if self.server_authoritative:
            assert self.store is not None
            stored = self._load_stored()
            self.lineage = stored.lineage
            self._subscription = self.doc.observe(self._on_transaction)
            return
        assert self.disk is not None and self.store is not None
        loaded = await self.disk.load()
        stored = self._load_stored()
        self.lineage = stored.lineage
        if stored.empty:
            first_load = deterministic_load(self.kind, self._strip(loaded.content))
            self.doc.apply_update(first_load)
            self.store.compact(self.room_id, first_load)  # it is the whole document
            self.store.mark_saved(self.room_id, loaded.hash, loaded.content)
            self._saved_content, self._saved_hash = loaded.content, loaded.hash
            self.log.info("Loaded %s from the file", self.path)
        else:
            self._saved_content, self._saved_hash = stored.saved_content, stored.saved_hash
            self.log.info(
                "Loaded %s from the store (%d logged updates)", self.path, len(stored.updates)
            )
        self._disk_modified = loaded.modified
        self._subscription = self.doc.observe(self._on_transaction)
        if not stored.empty:
            # The ``dirty`` flag is stored with every other update: if it is set, the server
            # stopped (or crashed) before saving, and the room holds changes the file lacks.
            if self.doc.get("state", type=Map).get("dirty") is True:
                self._version = 1
                self._schedule_save()
            if loaded.hash != stored.saved_hash:
                self._merge_from_disk(loaded.content, loaded.hash)
        self._flush()
        self._poller = asyncio.create_task(self._poll_disk())

    def _load_stored(self) -> StoredDocument:
        """The stored document, applied to ``self.doc``.

        A snapshot or logged update that cannot be applied (a damaged row) must not make the
        document unopenable forever: the rows are moved aside to the quarantine table (kept
        for inspection, not deleted) and the document starts over from its file, under a
        new lineage so that no client merges its old state into the fresh one.
        """
        assert self.store is not None
        stored = self.store.load(self.room_id)
        try:
            if stored.snapshot is not None:
                self.doc.apply_update(stored.snapshot)
            for update in stored.updates:
                self.doc.apply_update(update)
            return stored
        except BaseException as e:  # pycrdt panics are BaseExceptions
            _reraise_if_fatal(e)
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

    def _cancel_background(self) -> None:
        """Stop timers and tasks and detach from the document (no save, no store write)."""
        for timer in (self._save_timer, self._awareness_timer):
            if timer is not None:
                timer.cancel()
        self._save_timer = self._awareness_timer = None
        if self._poller is not None:
            self._poller.cancel()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        if self._subscription is not None:
            self.doc.unobserve(self._subscription)
            self._subscription = None

    def delete(self, message: str) -> None:
        """The file was deleted: tell everyone, close every connection (4404) and stop for
        good — nothing is saved (that would recreate the file) and the stored document is
        forgotten."""
        if self.deleted:
            return
        self.deleted = True
        self.stopped = True
        self._queue.clear()
        self._cancel_background()
        notice = raw_json({"type": "error", "reason": "deleted", "message": message})
        for conn in list(self.connections):
            conn.send(notice)
            conn.close(4404, '{"reason":"deleted"}')
        if self.store is not None and self.is_document:
            try:
                self.store.forget(self.room_id)
            except sqlite3.Error as e:
                self.log.error("Forgetting the stored room %s failed: %s", self.room_id, e)
        self.log.info("Room %s closed: its file was deleted", self.room_id)

    async def stop(self) -> None:
        """Save what is unsaved and detach from the document and the file."""
        if self.stopped:
            return
        self.stopped = True
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._save_timer is not None:
            self._save_timer.cancel()
        if self.is_document:
            await self.save("close")
            self._compact()
        for task in list(self._tasks):
            task.cancel()
        if self._subscription is not None:
            self.doc.unobserve(self._subscription)
            self._subscription = None

    # -- connections ----------------------------------------------------------------------

    def join(self, conn: Connection) -> None:
        self.connections.add(conn)
        self._flush()  # never show a joining client anything that is not yet stored
        conn.send(sync_step1(self.doc.get_state()))
        present = self._presence_for(conn)
        if present is not None:
            conn.send(awareness_frame(present))

    def leave(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self._buckets.pop(conn, None)
        self._held_awareness.pop(conn, None)
        self._warned.discard(conn)
        self.awareness.remove_owner(conn)
        self._schedule_awareness(0.0)  # departures are shown at once
        if not self.connections and self.is_document and not self.stopped:
            self._spawn(self.save("last client left"))

    def _presence_for(self, conn: Connection) -> bytes | None:
        if self.presence == "self":
            return self.awareness.own_snapshot(conn)
        return self.awareness.snapshot()

    def handle(self, conn: Connection, message: Message) -> Awaitable[None] | None:
        """Act on one decoded message from ``conn``.

        Returns an awaitable for the slow cases (a save) so the caller can run it without
        blocking the socket. Raises :class:`ProtocolError` for a malformed payload.
        """
        if isinstance(message, SyncMessage):
            if message.subtype == SyncType.STEP1:
                self._flush()
                if self._store_retrying:
                    # The document holds changes the store does not yet: answer once stored.
                    self._held_step1.append((conn, message.payload))
                    return None
                self._answer_step1(conn, message.payload)
            elif message.payload == _EMPTY_UPDATE:
                pass  # a client's STEP2 reply when it has nothing we lack
            elif not conn.can_write or not self.is_document or self.server_authoritative:
                # A page's own (read-only) client replies to our STEP1 with what it has: if
                # that adds nothing, it is no attempt to write and not worth a warning.
                level = logging.WARNING if self._adds_content(message.payload) else logging.DEBUG
                self.log.log(
                    level,
                    "Dropped an update from %s in %s: no write permission",
                    conn.label,
                    self.room_id,
                )
            elif self.deleted or self.stopped:
                pass
            else:
                self._apply(conn, message.payload)
            return None
        if isinstance(message, AwarenessMessage):
            self._receive_awareness(conn, message.payload)
            return None
        if isinstance(message, QueryAwareness):
            present = self._presence_for(conn)
            if present is not None:
                conn.send(awareness_frame(present))
            return None
        if isinstance(message, SaveRequest):
            return self._answer_save(conn, message.request_id)
        if isinstance(message, RawMessage):
            self.log.debug("Ignored a RAW message %r from %s", message.text[:40], conn.label)
        return None

    def _answer_step1(self, conn: Connection, state_vector: bytes) -> None:
        try:
            reply = self.doc.get_update(state_vector)
        except BaseException as e:
            _reraise_if_fatal(e)
            raise ProtocolError("invalid state vector") from e
        conn.send(sync_step2(reply))

    def _adds_content(self, update: bytes) -> bool:
        """Whether ``update`` holds items this document lacks (deletions are not looked at:
        this only decides how loudly a refused update is logged)."""
        if not self.is_document:
            return True
        try:
            missing = get_update(update, self.doc.get_state())
        except BaseException as e:
            _reraise_if_fatal(e)
            return True
        return not missing.startswith(b"\x00")

    # -- presence -------------------------------------------------------------------------

    def _receive_awareness(self, conn: Connection, payload: bytes) -> None:
        bucket = self._buckets.get(conn)
        if bucket is None:
            settings = self.settings
            bucket = TokenBucket(settings.awareness_rate, settings.awareness_burst)
            self._buckets[conn] = bucket
        if conn in self._held_awareness or not bucket.take():
            # Over the rate: keep only the latest update; it goes out when a token is due.
            self._held_awareness[conn] = payload
            self._schedule_awareness(max(bucket.wait(), self.settings.awareness_window))
            return
        self._apply_awareness(conn, payload)
        self._schedule_awareness(self.settings.awareness_window)

    def _apply_awareness(self, conn: Connection, payload: bytes) -> None:
        dropped = self.awareness.apply(conn, conn.user, payload)
        if dropped and conn not in self._warned:
            self._warned.add(conn)  # once per connection: a flood must not flood the log
            self.log.warning(
                "Dropped awareness from %s in %s: %s (further drops not logged)",
                conn.label,
                self.room_id,
                "; ".join(sorted(set(dropped))),
            )

    def _schedule_awareness(self, delay: float) -> None:
        if self._awareness_timer is not None:
            if delay > 0:
                return  # a send is already due; it takes this change along
            self._awareness_timer.cancel()
        self._awareness_timer = asyncio.get_running_loop().call_later(delay, self._send_awareness)

    def _send_awareness(self) -> None:
        """Send the presence changes gathered since the last call: one merged frame."""
        self._awareness_timer = None
        if self._held_awareness:
            for conn, payload in list(self._held_awareness.items()):
                bucket = self._buckets.get(conn)
                if bucket is None or not bucket.take():
                    continue
                del self._held_awareness[conn]
                try:
                    self._apply_awareness(conn, payload)
                except ProtocolError as e:
                    self.log.warning("Closing %s in %s: %s", conn.label, self.room_id, e)
                    conn.close(1002, f"Protocol error: {e}"[:120])
            if self._held_awareness:
                waits = [b.wait() for c, b in self._buckets.items() if c in self._held_awareness]
                self._schedule_awareness(max(min(waits, default=0.0), 0.01))
        pending = self.awareness.take_pending()
        if not pending:
            return
        if self.presence == "self":
            mine: dict[object, list[Any]] = {}
            for owner, entry in pending:
                mine.setdefault(owner, []).append(entry)
            for conn in list(self.connections):
                entries = mine.get(conn)
                if entries:
                    conn.send(awareness_frame(encode_awareness(entries)))
            return
        self._broadcast(awareness_frame(encode_awareness([e for _, e in pending])))

    def _apply(self, conn: Connection, update: bytes) -> None:
        self._origin = conn
        try:
            self.doc.apply_update(update)
        except BaseException as e:
            _reraise_if_fatal(e)
            raise ProtocolError(f"invalid update: {type(e).__name__}") from e
        finally:
            self._origin = None

    async def _answer_save(self, conn: Connection, request_id: int) -> None:
        reply: dict[str, Any] = {"type": "save", "responseTo": request_id}
        if not conn.can_write or not self.is_document or self.disk is None:
            self.log.warning("Refused a save from %s: no write permission", conn.label)
            conn.send(raw_json({**reply, "status": "failed"}))
            return
        try:
            status = await self.save("requested")
        except Exception:
            self.log.exception("Saving %s failed", self.path)
            status = "failed"
        conn.send(raw_json({**reply, "status": status}))

    # -- the update path ----------------------------------------------------------------

    def _on_transaction(self, event: TransactionEvent) -> None:
        update = event.update
        if update == _EMPTY_UPDATE:
            return
        self._queue.append((self._origin, update))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            window = self.settings.coalesce_window(len(self.connections))
            loop = asyncio.get_running_loop()
            if window > 0:
                loop.call_later(window, self._flush)
            else:
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Store everything queued (one transaction), then broadcast it (one message)."""
        self._flush_scheduled = False
        if not self._queue:
            return
        if not self.is_document or self.deleted:
            self._queue.clear()
            return
        if self._store_retrying:
            return  # the retry stores (then sends) everything queued, in order
        from_clients = any(origin is not None for origin, _ in self._queue)
        if from_clients:
            self._version += 1
            self._mark_dirty()  # queues one more (server) update, stored with the rest
        queued, self._queue = self._queue, []
        updates = [u for _, u in queued]
        assert self.store is not None
        try:
            self.store.append(self.room_id, updates)
        except StoreBusy as e:
            # Another process holds the database lock. Nobody sees these updates until
            # they are stored; retry off the event loop's critical path.
            self._queue = queued + self._queue
            self._store_retrying = True
            self._spawn(self._retry_store(str(e)))
            return
        except StoreUnavailable as e:
            self._queue = []
            self._store_failed(str(e))
            return
        self._broadcast_batch(queued, from_clients)

    async def _retry_store(self, first_error: str) -> None:
        """Store the held batch once the lock is free (bounded); or give up on the room."""
        assert self.store is not None
        self.log.warning(
            "The database is locked; holding room %s's changes and retrying (%s)",
            self.room_id,
            first_error,
        )
        deadline = time.monotonic() + self.settings.store_retry
        delay = 0.02
        error = first_error
        while time.monotonic() < deadline and not self.stopped:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
            queued = self._queue
            if not queued:
                self._store_retrying = False
                return
            try:
                self.store.append(self.room_id, [u for _, u in queued])
            except StoreBusy as e:
                error = str(e)
                continue
            except StoreUnavailable as e:
                error = str(e)
                break
            self._queue = self._queue[len(queued) :]
            self._store_retrying = False
            self.log.info("The database is writable again; room %s goes on", self.room_id)
            self._broadcast_batch(queued, any(o is not None for o, _ in queued))
            if self._queue:
                self._flush()
            held, self._held_step1 = self._held_step1, []
            for conn, state_vector in held:
                if conn in self.connections:
                    try:
                        self._answer_step1(conn, state_vector)
                    except ProtocolError:
                        conn.close(1002, "Protocol error: invalid state vector")
            return
        self._store_retrying = False
        self._queue = []
        self._store_failed(error)

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
        notice = raw_json(
            {
                "type": "error",
                "reason": "store_unavailable",
                "message": "The server cannot store changes right now. Reconnecting…",
            }
        )
        for conn in list(self.connections):
            conn.send(notice)
            conn.close(1011, '{"reason":"store_unavailable"}')
        if self.on_store_failed is not None:
            self.on_store_failed(self)

    def _broadcast_batch(
        self, queued: list[tuple[Connection | None, bytes]], from_clients: bool
    ) -> None:
        assert self.store is not None
        updates = [u for _, u in queued]
        message = sync_update(updates[0] if len(updates) == 1 else merge_updates(*updates))
        origins = {origin for origin, _ in queued}
        skip = next(iter(origins)) if len(origins) == 1 else None
        self._broadcast(message, skip=skip)
        if from_clients:
            self._schedule_save()
        if not self._compaction_scheduled and self.store.needs_compaction(
            self.room_id, self.settings.compact_max_updates, self.settings.compact_min_bytes
        ):
            self._compaction_scheduled = True
            asyncio.get_running_loop().call_later(0.2, self._compact)

    def _broadcast(self, frame: bytes, skip: Connection | None = None) -> None:
        for conn in list(self.connections):
            if conn is not skip:
                conn.send(frame)

    def _mark_dirty(self) -> None:
        state = self.doc.get("state", type=Map)
        if state.get("dirty") is not True:
            state["dirty"] = True

    def _compact(self) -> None:
        self._compaction_scheduled = False
        if not self.is_document or self.store is None or self.deleted:
            return
        self._flush()
        if self._store_retrying or (self.stopped and self._subscription is None):
            return  # the document may hold what the store refused: never snapshot it
        try:
            self.store.compact(self.room_id, self.doc.get_update())
        except sqlite3.Error as e:
            # Nothing lost: the log still holds every update. Compaction runs again later.
            self.log.warning("Compacting room %s failed: %s", self.room_id, e)

    # -- saving ---------------------------------------------------------------------------

    def _schedule_save(self) -> None:
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
        if not self.is_document or self.disk is None or self.deleted:
            return "skipped"
        assert self.kind is not None and self.store is not None
        if self._store_retrying:
            # Never write the file from a state the store does not hold yet: try again later.
            if not self.stopped:
                self._schedule_save()
            return "skipped"
        async with self._save_lock:
            if self._save_timer is not None:
                self._save_timer.cancel()
                self._save_timer = None
            self._flush()
            version = self._version
            if version == self._saved_version and reason != "requested":
                return "skipped"  # nothing changed here since the last save
            content = read_content(self.kind, self.doc)
            if self.file_filter is not None:
                content = await self.file_filter.before_save(self, content)
            if content == self._saved_content and not self._force_write:
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
                self._send_to_writers(raw_json({"type": "saved"}))
            self.store.mark_saved(self.room_id, content_hash, content)
            self._saved_content, self._saved_hash = content, content_hash
            self._disk_modified = modified
            self._saved_version = version
            self._set_clean(version)
            self.log.info("Saved %s (%s)", self.path, reason)
            return "success"

    def _report_save_failure(self, error: Exception) -> None:
        """Log a failed save and tell the writers (at most once per interval)."""
        now = time.monotonic()
        if (
            self._save_failed_at is not None
            and now - self._save_failed_at < self.settings.save_failure_interval
        ):
            return
        assert self.disk is not None
        self.log.error(
            "Saving %s (room %s) failed: %s", self.path, self.room_id, self.disk.describe(error)
        )
        self._save_failed_at = now
        self._save_failure_reported = True
        self._send_to_writers(
            raw_json(
                {
                    "type": "save_failed",
                    "message": "Saving this notebook to its file failed; your changes are"
                    " kept on the server and saving is retried.",
                }
            )
        )

    def _send_to_writers(self, frame: bytes) -> None:
        for conn in list(self.connections):
            if conn.can_write:
                conn.send(frame)

    def _set_clean(self, version: int) -> None:
        if self._version != version:
            return  # changed while we were writing: still dirty, and another save is due
        self._first_unsaved_at = None
        state = self.doc.get("state", type=Map)
        if state.get("dirty") is not False:
            state["dirty"] = False
        self._flush()

    # -- changes made outside the server ----------------------------------------------------

    async def _poll_disk(self) -> None:
        assert self.disk is not None
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            try:
                modified = await self.disk.modified()
                if modified is None:
                    # Gone from disk (deleted outside the server, or by a path the contents
                    # events do not report). Twice in a row, so that a rename in flight
                    # (whose event moves ``disk.path``) is not taken for a deletion.
                    self._missing_polls += 1
                    if self._missing_polls >= 2 and self.on_file_gone is not None:
                        self.on_file_gone(self)
                        return
                    continue
                self._missing_polls = 0
                if modified == self._disk_modified:
                    continue
                async with self._save_lock:
                    loaded = await self.disk.load()
                    self._disk_modified = loaded.modified
                    if loaded.hash != self._saved_hash:
                        self._merge_from_disk(loaded.content, loaded.hash)
            except BaseException as e:  # pycrdt panics are BaseExceptions
                _reraise_if_fatal(e)
                self.log.exception("Checking %s for outside changes failed", self.path)

    def _merge_from_disk(self, content: Any, content_hash: str | None) -> None:
        assert self.kind is not None and self.store is not None
        report = merge_external_change(
            self.kind, self.doc, self._strip(self._saved_content), self._strip(content)
        )
        self.log.info(
            "Merged an outside change to %s: %d cells added, %d removed, %d changed"
            " (%d also edited here), metadata %s",
            self.path,
            report.added,
            report.removed,
            report.changed,
            report.conflicts,
            "changed" if report.metadata else "unchanged",
        )
        self._saved_content, self._saved_hash = content, content_hash
        self.store.mark_saved(self.room_id, content_hash, content)
        self._flush()
        if self._version == self._saved_version:
            self._set_clean(self._version)

    def flush(self) -> None:
        """Store and broadcast every queued change now (the server's own changes are then
        durable before it answers the request that made them)."""
        self._flush()

    def request_save(self) -> None:
        """Something the file carries besides the document changed (comments): save soon."""
        if self.disk is None or self.stopped:
            return
        self._version += 1
        self._schedule_save()

    def _strip(self, content: Any) -> Any:
        if self.file_filter is None or content is None:
            return content
        return self.file_filter.strip(content)

    # -- helpers --------------------------------------------------------------------------

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except BaseException as e:  # pycrdt panics are BaseExceptions
                _reraise_if_fatal(e)
                self.log.exception("Background work in room %s failed", self.room_id)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _reraise_if_fatal(error: BaseException) -> None:
    """pycrdt raises pyo3's PanicException (a BaseException) on some malformed input; treat
    that as bad input, but never swallow cancellation or interpreter exit."""
    if isinstance(error, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
        raise error
