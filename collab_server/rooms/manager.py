"""The room manager: which rooms are open, opening them once, closing them when idle.

A room is opened by the first connection and shared by all later ones (a lock per room id
makes concurrent first connections load the file once). When its last connection leaves,
the room saves at once and stays in memory for ``cleanup_delay`` seconds, so a reload or a
brief network drop does not pay for a reload; then it is stopped and dropped.

It also follows what happens to files while their rooms are open: a move or rename wakes
every connection's re-authorization at once (access follows the file's *current* path); a
deletion (contents API, or the file vanishing from disk) closes the rooms of that file for
good and forgets their stored documents; a store that refuses writes closes the room and
keeps it closed while the store keeps failing. And it counts each person's sockets across
the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..contents import FileIdStore
from .awareness import AwarenessLimits
from .disk import DiskFile, FileLoadError
from .document import SUPPORTED_KINDS, DocumentKind
from .room import FileFilter, Room, RoomSettings
from .store import StoreUnavailable, UpdateStore

GLOBAL_AWARENESS = "JupyterLab:globalAwareness"

# ``json:comments:{fileId}``: a notebook's comment threads, written only by the server.
COMMENTS_KIND = DocumentKind("json", "comments")


class RoomNotFound(Exception):
    """The room id names no known file (or is not a room id at all)."""


@dataclass(frozen=True)
class RoomAddress:
    """What a room id names: a document (kind + file id) or the global presence room."""

    room_id: str
    kind: DocumentKind | None
    file_id: str | None

    @classmethod
    def parse(cls, room_id: str) -> RoomAddress:
        if room_id == GLOBAL_AWARENESS:
            return cls(room_id, None, None)
        parts = room_id.split(":", 2)
        if len(parts) != 3 or not parts[2]:
            raise RoomNotFound(f"{room_id!r} is not a room id ({{format}}:{{type}}:{{fileId}})")
        kind = SUPPORTED_KINDS.get((parts[0], parts[1]))
        if (parts[0], parts[1]) == (COMMENTS_KIND.format, COMMENTS_KIND.type):
            kind = COMMENTS_KIND
        if kind is None:
            supported = ", ".join(f"{f}:{t}" for f, t in SUPPORTED_KINDS)
            raise RoomNotFound(f"unsupported document kind {parts[0]}:{parts[1]} ({supported})")
        return cls(room_id, kind, parts[2])


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
        self.max_sockets_per_user = max_sockets_per_user
        if global_presence not in ("self", "signed-in"):
            raise ValueError('global_presence must be "self" or "signed-in"')
        self.global_presence = global_presence
        self.log = log
        self.sockets: dict[str, int] = {}  # open sockets (and upgrades under way) per person
        self._store_failing: set[str] = set()  # rooms closed because the store failed
        self.rooms: dict[str, Room] = {}
        # Set by the comments service: keeps comments out of notebook documents (see Room),
        # and fills a comments document from its notebook's file the first time it opens.
        self.notebook_filter: FileFilter | None = None
        self.comments_initializer: Callable[[Room, str], Awaitable[None]] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._unload_timers: dict[str, asyncio.TimerHandle] = {}
        self._stopping = False

    async def open(self, address: RoomAddress, path: str | None) -> Room:
        """The running room at ``address``, started if needed (raises FileLoadError)."""
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
                    raise FileLoadError(
                        1011, "The server cannot store changes right now", "store_unavailable"
                    ) from e
                self._store_failing.discard(address.room_id)
                self.log.info("The store accepts writes again; reopening %s", address.room_id)
            disk = None
            comments = address.kind is COMMENTS_KIND
            if address.kind is not None and not comments:
                assert path is not None
                disk = DiskFile(self.contents_manager, path, address.kind)
            notebook = address.kind is not None and address.kind.is_notebook
            room = Room(
                address.room_id,
                kind=address.kind,
                disk=disk,
                store=self.store if address.kind is not None else None,
                settings=self.settings,
                log=self.log,
                server_authoritative=comments,
                file_filter=self.notebook_filter if notebook else None,
                **self._presence_options(address),
            )
            room.on_file_gone = self._file_gone
            room.on_store_failed = self._store_failed
            await room.start()
            if comments and self.comments_initializer is not None:
                assert path is not None
                await self.comments_initializer(room, path)
                room.flush()
            self.rooms[address.room_id] = room
            return room

    def _presence_options(self, address: RoomAddress) -> dict[str, Any]:
        if address.kind is not None:
            return {}
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

    # -- sockets per person ---------------------------------------------------------------

    def reserve_socket(self, username: str) -> bool:
        """Count one more socket for ``username``; False (nothing counted) over the limit."""
        count = self.sockets.get(username, 0)
        if self.max_sockets_per_user > 0 and count >= self.max_sockets_per_user:
            return False
        self.sockets[username] = count + 1
        return True

    def release_socket(self, username: str) -> None:
        count = self.sockets.get(username, 0) - 1
        if count > 0:
            self.sockets[username] = count
        else:
            self.sockets.pop(username, None)

    def release(self, room: Room) -> None:
        """Called when a connection left; schedules the room's unload once it is empty."""
        if room.connections or self._stopping:
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
            if room is None or room.connections:
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

    def file_moved(self, old_path: str, new_path: str) -> None:
        """Follow a rename: open rooms keep saving to the file under its new name, and every
        open connection re-checks its rights now (against the file's new path)."""
        old_path, new_path = old_path.strip("/"), new_path.strip("/")
        for room in self.rooms.values():
            if room.disk is None:
                continue
            if room.disk.path == old_path:
                room.disk.path = new_path
            elif room.disk.path.startswith(old_path + "/"):
                room.disk.path = new_path + room.disk.path[len(old_path) :]
        for room in list(self.rooms.values()):
            for conn in list(room.connections):
                wake = getattr(conn, "path_may_have_changed", None)
                if callable(wake):
                    wake()

    def file_deleted(self, path: str, file_ids: list[str], by: str | None = None) -> None:
        """Close the rooms of deleted files (``file_ids``: the ids ``path`` had, a folder's
        files included), telling their connections who deleted them."""
        if not file_ids:
            return
        who = by or "someone"
        message = f"This notebook was deleted by {who}."
        doomed = set(file_ids)
        for room_id, room in list(self.rooms.items()):
            try:
                address = RoomAddress.parse(room_id)
            except RoomNotFound:
                continue
            if address.file_id in doomed:
                del self.rooms[room_id]
                self._cancel_unload(room_id)
                room.delete(message)
        # Rooms not open now may still have stored documents.
        for file_id in doomed:
            for kind in (*SUPPORTED_KINDS.values(), COMMENTS_KIND):
                room_id = f"{kind.format}:{kind.type}:{file_id}"
                try:
                    self.store.forget(room_id)
                except Exception:
                    self.log.exception("Forgetting the stored room %s failed", room_id)

    def _file_gone(self, room: Room) -> None:
        """The poller found the room's file gone from disk (deleted outside the server)."""
        if room.disk is None:
            return
        address = RoomAddress.parse(room.room_id)
        if address.file_id is None:
            return
        self.log.info("The file of room %s vanished from disk", room.room_id)
        if self.file_ids.get_path(address.file_id) is not None:
            self.file_ids.forget(room.disk.path)
        self.file_deleted(room.disk.path, [address.file_id])

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
