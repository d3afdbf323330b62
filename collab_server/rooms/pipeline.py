"""The document pipeline of one room: apply → persist → publish.

The path of an accepted change, and why it is in this order:

1. A change is applied to the document with its :class:`~.events.Source`
   (:meth:`DocumentPipeline.apply_update` for a client's update — a malformed update is
   refused there, before anything else sees it; :meth:`DocumentPipeline.apply` for the
   server's own changes). The document observer queues the *effective* update each
   transaction produced, with its source.
2. :meth:`DocumentPipeline.flush` runs once per event-loop tick (or after a coalescing
   window in a crowded room): it appends everything queued to the store in **one**
   transaction, with each update's author, and only then publishes it through the fan-out —
   so a ``kill -9`` can never lose a change that any client has seen. Updates queued in one
   tick go out as one merged message, framed once.
3. The room is told (``on_persisted``) so it can schedule the autosave and notify observers.

When the store refuses a batch, the document never runs ahead of it: a locked database
(another process) holds the batch — and every STEP1 answer — and retries for ``store_retry``
seconds off the hot path; any other failure, or a lock held longer, calls ``on_failed``.
Compaction is scheduled here once the log is long enough, and never snapshots a state the
store does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pycrdt import Doc, TransactionEvent, merge_updates

from .events import ROOM, PersistedBatch, Source
from .fanout import Connection, FanOut
from .protocol import ProtocolError, sync_reply, sync_update
from .store import StoreBusy, StoreUnavailable, UpdateStore

if TYPE_CHECKING:
    from .room import RoomSettings

EMPTY_UPDATE = b"\x00\x00"


class DocumentPipeline:
    """Applies, stores and publishes the changes of one document."""

    def __init__(
        self,
        room_id: str,
        doc: Doc,
        *,
        store: UpdateStore,
        fanout: FanOut,
        settings: RoomSettings,
        log: logging.Logger,
        spawn: Callable[[Any], None],
        on_persisted: Callable[[PersistedBatch], None],
        on_failed: Callable[[str], None],
        on_edit: Callable[[], None] | None = None,
    ) -> None:
        self.room_id = room_id
        self.doc = doc
        self.store = store
        self.fanout = fanout
        self.settings = settings
        self.log = log
        self._spawn = spawn
        self._on_persisted = on_persisted
        self._on_failed = on_failed
        # Called before a batch with edits is stored (file sync marks the document dirty;
        # what that writes is stored in the same batch).
        self.on_edit = on_edit
        self.closed = False  # deleted or failed: nothing more is stored
        self._source: Source = ROOM
        self._queue: list[tuple[Source, bytes]] = []
        self._flush_scheduled = False
        self._retrying = False
        self._held_step1: list[tuple[Connection, bytes]] = []
        self._compaction_scheduled = False
        self._last_compaction = float("-inf")
        self._subscription: Any = None

    # -- attaching -----------------------------------------------------------------------

    def attach(self) -> None:
        self._subscription = self.doc.observe(self._on_transaction)

    def detach(self) -> None:
        if self._subscription is not None:
            self.doc.unobserve(self._subscription)
            self._subscription = None

    @property
    def attached(self) -> bool:
        return self._subscription is not None

    @property
    def retrying(self) -> bool:
        """The store is locked and a batch is held (nothing is saved from this state)."""
        return self._retrying

    def close(self) -> None:
        """Store and publish nothing more (the room is deleted or failed)."""
        self.closed = True
        self._queue.clear()
        self.detach()

    # -- applying ------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, source: Source) -> Iterator[None]:
        """Changes made to the document inside this block are queued as ``source``'s."""
        previous, self._source = self._source, source
        try:
            yield
        finally:
            self._source = previous

    def apply_update(self, source: Source, update: bytes) -> None:
        """Apply a client's update (raises :class:`ProtocolError` if it is malformed)."""
        # (The hot path: no context manager object per message.)
        previous, self._source = self._source, source
        try:
            self.doc.apply_update(update)
        except BaseException as e:
            reraise_if_fatal(e)
            raise ProtocolError(f"invalid update: {type(e).__name__}") from e
        finally:
            self._source = previous

    def apply(self, source: Source, fn: Callable[[Doc], None]) -> None:
        """Run ``fn`` on the document in one transaction, then store and publish it."""
        with self.writing(source), self.doc.transaction():
            fn(self.doc)
        self.flush()

    def answer_step1(self, conn: Connection, state_vector: bytes) -> None:
        """Answer a client's STEP1 — once the store holds everything it would be shown."""
        self.flush()
        if self._retrying:
            self._held_step1.append((conn, state_vector))
            return
        conn.send(sync_reply(self.doc, state_vector))

    # -- storing and publishing ------------------------------------------------------------

    def _on_transaction(self, event: TransactionEvent) -> None:
        update = event.update
        if update == EMPTY_UPDATE:
            return
        self._queue.append((self._source, update))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            window = self.settings.coalesce_window(len(self.fanout.connections))
            loop = asyncio.get_running_loop()
            if window > 0:
                loop.call_later(window, self.flush)
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Store everything queued (one transaction), then publish it (one message)."""
        self._flush_scheduled = False
        if not self._queue:
            return
        if self.closed:
            self._queue.clear()
            return
        if self._retrying:
            return  # the retry stores (then sends) everything queued, in order
        if self.on_edit is not None and any(s.is_edit for s, _ in self._queue):
            self.on_edit()  # may queue one more (bookkeeping) update, stored with the rest
        queued, self._queue = self._queue, []
        try:
            self._append(queued)
        except StoreBusy as e:
            # Another process holds the database lock. Nobody sees these updates until
            # they are stored; retry off the event loop's critical path.
            self._queue = queued + self._queue
            self._retrying = True
            self._spawn(self._retry_store(str(e)))
            return
        except StoreUnavailable as e:
            self._queue = []
            self.closed = True
            self._on_failed(str(e))
            return
        self._publish(queued)

    def _append(self, queued: list[tuple[Source, bytes]]) -> None:
        self.store.append(self.room_id, [u for _, u in queued], [s.author for s, _ in queued])

    async def _retry_store(self, first_error: str) -> None:
        """Store the held batch once the lock is free (bounded); or give up on the room."""
        self.log.warning(
            "The database is locked; holding room %s's changes and retrying (%s)",
            self.room_id,
            first_error,
        )
        deadline = time.monotonic() + self.settings.store_retry
        delay = 0.02
        error = first_error
        while time.monotonic() < deadline and not self.closed:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
            queued = self._queue
            if not queued:
                self._retrying = False
                return
            try:
                self._append(queued)
            except StoreBusy as e:
                error = str(e)
                continue
            except StoreUnavailable as e:
                error = str(e)
                break
            self._queue = self._queue[len(queued) :]
            self._retrying = False
            self.log.info("The database is writable again; room %s goes on", self.room_id)
            self._publish(queued)
            if self._queue:
                self.flush()
            held, self._held_step1 = self._held_step1, []
            for conn, state_vector in held:
                if conn in self.fanout.connections:
                    try:
                        conn.send(sync_reply(self.doc, state_vector))
                    except ProtocolError:
                        conn.close(1002, "Protocol error: invalid state vector")
            return
        self._retrying = False
        if self.closed:
            return
        self._queue = []
        self.closed = True
        self._on_failed(error)

    def _publish(self, queued: list[tuple[Source, bytes]]) -> None:
        updates = [u for _, u in queued]
        message = sync_update(updates[0] if len(updates) == 1 else merge_updates(*updates))
        # A client's own update is not echoed back to it.
        first = queued[0][0].connection
        skip = first if all(s.connection is first for s, _ in queued) else None
        self.fanout.publish(message, skip=skip)
        authors = frozenset(a for a in (s.author for s, _ in queued) if a is not None)
        edit = any(s.is_edit for s, _ in queued)
        self._on_persisted(PersistedBatch(authors, len(queued), edit))
        if not self._compaction_scheduled and self.store.needs_compaction(
            self.room_id, self.settings.compact_max_updates, self.settings.compact_min_bytes
        ):
            self._compaction_scheduled = True
            # Small documents compact at once; a large one (a cell streaming output) at most
            # once per interval, so re-encoding it does not stall the room every second.
            interval = (
                self.settings.compact_min_interval
                if self.store.snapshot_bytes(self.room_id) > self.settings.compact_large_bytes
                else 0.0
            )
            due = self._last_compaction + interval - time.monotonic()
            asyncio.get_running_loop().call_later(max(0.2, due), self.compact)

    def compact(self) -> None:
        """Replace the store's log by a snapshot of the document (when it holds it all)."""
        self._compaction_scheduled = False
        if self.closed:
            return
        self._last_compaction = time.monotonic()
        self.flush()
        if self._retrying or not self.attached:
            return  # the document may hold what the store refused: never snapshot it
        try:
            self.store.compact(self.room_id, self.doc.get_update())
        except (sqlite3.Error, StoreUnavailable) as e:
            # Nothing lost: the log still holds every update. Compaction runs again later.
            self.log.warning("Compacting room %s failed: %s", self.room_id, e)


def reraise_if_fatal(error: BaseException) -> None:
    """pycrdt raises pyo3's PanicException (a BaseException) on some malformed input; treat
    that as bad input, but never swallow cancellation or interpreter exit."""
    if isinstance(error, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
        raise error
