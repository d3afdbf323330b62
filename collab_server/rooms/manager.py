"""The room manager: which rooms are open, opening them once, closing them when idle, and the
registry of extension points.

A room is opened by the first connection (or feature) and shared by all later ones (a lock
per room id makes concurrent first opens load the file once). When it has no connection and
nobody holds it, the room saves at once and stays in memory for ``cleanup_delay`` seconds, so
a reload or a brief network drop does not pay for a reload; then it is stopped and dropped.

It also follows what happens to files while their rooms are open: a move or rename wakes
every connection's re-authorization at once (access follows the file's *current* path); a
deletion (contents API, or the file vanishing from disk) closes the rooms of that file for
good and forgets their stored documents; a store that refuses writes closes the room and
keeps it closed while the store keeps failing.

Extension points (a feature plugs in with one call from ``app.py``):

* ``register_kind(RoomKind(kind, file_backed=False, resource=…, initialize=…))`` — a kind of
  document room owned by a feature (comments: ``json:comments``);
* ``add_file_filter(kind, filter)`` — keep part of a file of ``kind`` out of its document and
  put it back on save (:class:`~.filesync.FileFilter`);
* ``add_observer(observer)`` — a :class:`~.events.RoomObserver` (lifecycle, joins, persisted
  batches with authors, saves, outside changes, moves, deletions, ``keep_open``);
* ``open(address, path)`` / ``release(room)`` — use a room for a while;
  ``hold(room)`` / ``unhold(room)`` — keep it open while a feature has work (a busy kernel);
* ``address(room_id)`` — the :class:`~.address.RoomAddress` of a wire room id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..contents import FileIdStore
from .address import RoomAddress, RoomKind, RoomKinds
from .awareness import AwarenessLimits
from .disk import DiskFile
from .document import DocumentKind
from .errors import RoomNotFound, StoreUnavailable
from .events import Observers, RoomObserver
from .filesync import FileFilter
from .limits import ConnectionLimits, LocalConnectionLimits
from .room import DocumentRoom, FileRoom, PresenceRoom, Room, RoomSettings
from .store import UpdateStore


class RoomManager:
    """Owns every open room of the server."""

    def __init__(
        self,
        *,
        store: UpdateStore,
        file_ids: FileIdStore,
        contents_manager: Any,
        settings: RoomSettings,
        cleanup_delay: float,
        max_message_size: int,
        max_client_backlog: int,
        reauthorize_interval: float = 2.0,
        max_sockets_per_user: int = 50,
        limits: ConnectionLimits | None = None,
        global_presence: str = "self",
        log: logging.Logger,
    ) -> None:
        self.store = store
        self.file_ids = file_ids
        self.contents_manager = contents_manager
        self.settings = settings
        self.cleanup_delay = cleanup_delay
        self.max_message_size = max_message_size
        self.max_client_backlog = max_client_backlog
        self.reauthorize_interval = reauthorize_interval
        # Open sockets (and upgrades under way) per person.
        self.limits: ConnectionLimits = limits or LocalConnectionLimits(max_sockets_per_user)
        if global_presence not in ("self", "signed-in"):
            raise ValueError('global_presence must be "self" or "signed-in"')
        self.global_presence = global_presence
        self.log = log
        self.kinds = RoomKinds()
        self.observers = Observers(log)
        self.rooms: dict[str, Room] = {}
        self._filters: dict[DocumentKind, list[FileFilter]] = {}
        self._store_failing: set[str] = set()  # rooms closed because the store failed
        self._holds: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._unload_timers: dict[str, asyncio.TimerHandle] = {}
        self._stopping = False

    # -- extension points -------------------------------------------------------------------

    def register_kind(self, spec: RoomKind) -> None:
        self.kinds.register(spec)

    def add_file_filter(self, kind: DocumentKind, file_filter: FileFilter) -> None:
        self._filters.setdefault(kind, []).append(file_filter)

    def add_observer(self, observer: RoomObserver) -> None:
        self.observers.add(observer)

    def address(self, room_id: str) -> RoomAddress:
        """The address of a wire room id (raises RoomNotFound for unknown kinds)."""
        return self.kinds.resolve(room_id)

    def kind_of(self, address: RoomAddress) -> RoomKind | None:
        return self.kinds.get(address.kind) if address.kind is not None else None

    def get(self, address: RoomAddress) -> Room | None:
        """The open room at ``address`` (None if it is not open)."""
        room = self.rooms.get(address.room_id)
        return room if room is not None and not room.stopped else None

    # -- opening and closing ------------------------------------------------------------------

    async def open(self, address: RoomAddress, path: str | None) -> Room:
        """The running room at ``address``, started if needed (raises a FileLoadError, or
        StoreUnavailable while the store refuses writes). Call :meth:`release` when done."""
        self._cancel_unload(address.room_id)
        lock = self._locks.setdefault(address.room_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(address.room_id)
            if room is not None and not room.stopped:
                return room
            if address.room_id in self._store_failing:
                try:
                    self.store.check_writable()
                except StoreUnavailable as e:
                    raise StoreUnavailable("The server cannot store changes right now") from e
                self._store_failing.discard(address.room_id)
                self.log.info("The store accepts writes again; reopening %s", address.room_id)
            room = self._build(address, path)
            room.on_file_gone = self._file_gone
            room.on_store_failed = self._store_failed
            await room.start()
            spec = self.kind_of(address)
            if spec is not None and spec.initialize is not None:
                assert path is not None and isinstance(room, DocumentRoom)
                await spec.initialize(room, path)
                room.flush()
            self.rooms[address.room_id] = room
            return room

    def _build(self, address: RoomAddress, path: str | None) -> Room:
        options: dict[str, Any] = {
            "settings": self.settings,
            "log": self.log,
            "observers": self.observers,
        }
        if address.kind is None:
            return PresenceRoom(address, **options, **self._presence_options())
        spec = self.kind_of(address)
        if spec is None:
            raise RoomNotFound(f"no room kind {address.kind.format}:{address.kind.type}")
        if not spec.file_backed:
            return DocumentRoom(address, store=self.store, **options)
        assert path is not None
        return FileRoom(
            address,
            disk=DiskFile(self.contents_manager, path, address.kind),
            store=self.store,
            filters=self._filters.get(address.kind, []),
            **options,
        )

    def _presence_options(self) -> dict[str, Any]:
        if self.global_presence == "self":
            return {"presence": "self"}
        # Everyone signed in is shown, but only as who they are: JupyterLab's ``current``
        # (the document each person has open) would tell anyone the names of documents of
        # other tenants.
        limits = AwarenessLimits(
            max_state_bytes=self.settings.awareness.max_state_bytes,
            max_ids=self.settings.awareness.max_ids,
            only_user=True,
        )
        return {"presence": "all", "awareness_limits": limits}

    def _store_failed(self, room: Room) -> None:
        self._store_failing.add(room.room_id)
        if self.rooms.get(room.room_id) is room:
            del self.rooms[room.room_id]
        self._cancel_unload(room.room_id)

    def hold(self, room: Room) -> None:
        """Keep ``room`` open (even with nobody connected) until :meth:`unhold`."""
        self._holds[room.room_id] = self._holds.get(room.room_id, 0) + 1
        self._cancel_unload(room.room_id)

    def unhold(self, room: Room) -> None:
        count = self._holds.get(room.room_id, 0) - 1
        if count > 0:
            self._holds[room.room_id] = count
        else:
            self._holds.pop(room.room_id, None)
        self.release(room)

    def _in_use(self, room: Room) -> bool:
        return (
            bool(room.connections) or room.room_id in self._holds or self.observers.keep_open(room)
        )

    def release(self, room: Room) -> None:
        """A connection left (or a feature is done with the room it opened): schedule the
        room's unload once nobody uses it."""
        if self._stopping or room.connections or room.room_id in self._holds:
            return
        self._cancel_unload(room.room_id)
        loop = asyncio.get_running_loop()
        self._unload_timers[room.room_id] = loop.call_later(
            self.cleanup_delay, lambda: asyncio.ensure_future(self._unload(room.room_id))
        )

    async def _unload(self, room_id: str) -> None:
        self._unload_timers.pop(room_id, None)
        lock = self._locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(room_id)
            if room is None:
                return
            if self._in_use(room):
                if not room.connections and room_id not in self._holds:
                    self.release(room)  # kept open by an observer: ask again later
                return
            del self.rooms[room_id]
            if room.deleted:
                return
            await room.stop()
            self.log.debug("Closed idle room %s", room_id)

    def _cancel_unload(self, room_id: str) -> None:
        timer = self._unload_timers.pop(room_id, None)
        if timer is not None:
            timer.cancel()

    # -- files moving and going ---------------------------------------------------------------

    def file_moved(self, old_path: str, new_path: str) -> None:
        """Follow a rename: open rooms keep saving to the file under its new name, and every
        open connection re-checks its rights now (against the file's new path)."""
        old_path, new_path = old_path.strip("/"), new_path.strip("/")
        for room in self.rooms.values():
            if isinstance(room, FileRoom):
                room.follow_move(old_path, new_path)
        for room in list(self.rooms.values()):
            for conn in list(room.connections):
                wake = getattr(conn, "path_may_have_changed", None)
                if callable(wake):
                    wake()
        self.observers.file_moved(old_path, new_path)

    def file_deleted(self, path: str, file_ids: list[str], by: str | None = None) -> None:
        """Close the rooms of deleted files (``file_ids``: the ids ``path`` had, a folder's
        files included), telling their connections who deleted them."""
        if not file_ids:
            return
        who = by or "someone"
        message = f"This notebook was deleted by {who}."
        doomed = set(file_ids)
        for room_id, room in list(self.rooms.items()):
            if room.address.file_id in doomed:
                del self.rooms[room_id]
                self._cancel_unload(room_id)
                self._holds.pop(room_id, None)
                room.delete(message)
        # Rooms not open now may still have stored documents.
        for file_id in doomed:
            for spec in self.kinds:
                room_id = RoomAddress.document(spec.kind, file_id).room_id
                try:
                    self.store.forget(room_id)
                except Exception:
                    self.log.exception("Forgetting the stored room %s failed", room_id)
        self.observers.file_deleted(path, sorted(doomed))

    def _file_gone(self, room: Room) -> None:
        """The poller found the room's file gone from disk (deleted outside the server)."""
        path, file_id = room.path, room.address.file_id
        if path is None or file_id is None:
            return
        self.log.info("The file of room %s vanished from disk", room.room_id)
        if self.file_ids.get_path(file_id) is not None:
            self.file_ids.forget(path)
        self.file_deleted(path, [file_id])

    async def stop_all(self) -> None:
        """Save and stop every room (server shutdown)."""
        self._stopping = True
        for timer in self._unload_timers.values():
            timer.cancel()
        self._unload_timers.clear()
        for room_id, room in list(self.rooms.items()):
            try:
                await room.stop()
            except Exception:
                self.log.exception("Stopping room %s failed", room_id)
            for conn in list(room.connections):
                conn.close(1001, "server shutting down")
        self.rooms.clear()
