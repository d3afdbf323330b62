"""Who made a change, and the observer interface features implement.

**Sources.** Every change to a document carries its :class:`Source`: a client connection
(with the verified user id), the server, a kernel, a restore, the file changed outside the
server, or the room's own bookkeeping (its ``dirty`` flag). The source decides what the
change counts as: every source but ``disk`` and ``room`` is an *edit* (the file is autosaved
after it); its :attr:`Source.author` is what the update store records and what observers are
told.

**Observers.** A feature that follows rooms subclasses :class:`RoomObserver` (every method a
no-op) and implements only what it needs; :class:`Observers` calls them all and logs — never
propagates — an observer's exception, so no feature can break a room. Events:

* ``room_opened(room)`` / ``room_closed(room)``
* ``joined(room, conn)`` / ``left(room, conn)`` — e.g. send a late joiner transient state
* ``persisted(room, batch)`` — one stored-and-broadcast batch, with its authors
* ``save_requested(room, source)`` — a RAW ``save`` (JupyterLab's save, Ctrl+S)
* ``file_saved(room, path, content, reason)`` — the file was written (``reason``:
  ``"requested"``, ``"autosave"``, ``"close"``, ``"last client left"``, ``"retry"``)
* ``outside_change_merged(room, content)`` — a change made to the file outside the server
* ``file_moved(old, new)`` / ``file_deleted(path, file_ids)``
* ``keep_open(room) -> bool`` — the room has work going on: do not unload it while empty
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fanout import Connection
    from .room import DocumentRoom, Room

# Source kinds whose changes are no edit: nothing new to save.
_NOT_EDITS = frozenset({"room", "disk"})


@dataclass(frozen=True)
class Source:
    """Who made a change: ``kind`` is client | server | kernel | restore | disk | room."""

    kind: str
    user_id: str | None = None  # the verified user id (clients; a restore's requester)
    connection: Connection | None = field(default=None, compare=False, repr=False)

    @classmethod
    def client(cls, conn: Connection) -> Source:
        return cls("client", str(conn.user.get("username") or "") or None, conn)

    @classmethod
    def server(cls) -> Source:
        return SERVER

    @classmethod
    def kernel(cls, user_id: str | None = None) -> Source:
        return cls("kernel", user_id)

    @classmethod
    def restore(cls, user_id: str | None = None) -> Source:
        return cls("restore", user_id)

    @property
    def is_edit(self) -> bool:
        """Counts as an edit: the file is saved after it."""
        return self.kind not in _NOT_EDITS

    @property
    def author(self) -> str | None:
        """What the update store records: a client's user id; else the source kind (None
        for the room's own bookkeeping)."""
        if self.kind == "client":
            return self.user_id
        if self.kind == "room":
            return None
        return self.kind


SERVER = Source("server")
DISK = Source("disk")
ROOM = Source("room")


@dataclass(frozen=True)
class PersistedBatch:
    """Updates stored in one transaction and broadcast as one message."""

    authors: frozenset[str]  # Source.author of each change (bookkeeping left out)
    updates: int
    edit: bool  # holds an edit (not only bookkeeping or a merge from disk)


class RoomObserver:
    """Base class of room observers: every event is a no-op; override what you need."""

    def room_opened(self, room: Room) -> None: ...

    def room_closed(self, room: Room) -> None: ...

    def joined(self, room: Room, conn: Connection) -> None: ...

    def left(self, room: Room, conn: Connection) -> None: ...

    def persisted(self, room: DocumentRoom, batch: PersistedBatch) -> None: ...

    def save_requested(self, room: DocumentRoom, source: Source) -> None: ...

    def file_saved(self, room: DocumentRoom, path: str, content: Any, reason: str) -> None: ...

    def outside_change_merged(self, room: DocumentRoom, content: Any) -> None: ...

    def file_moved(self, old: str, new: str) -> None: ...

    def file_deleted(self, path: str, file_ids: list[str]) -> None: ...

    def keep_open(self, room: Room) -> bool:
        return False


class Observers(RoomObserver):
    """Every registered observer, called in registration order; exceptions are logged.

    Each event goes only to the observers that implement it (override the no-op), found once
    when they are added: an event nobody listens to — ``persisted`` after every batch, in most
    servers — costs one dictionary lookup."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._observers: list[RoomObserver] = []
        self._listeners: dict[str, list[Callable[..., Any]]] = {}

    def add(self, observer: RoomObserver) -> None:
        self._observers.append(observer)
        for event in _EVENTS:
            if getattr(type(observer), event) is not getattr(RoomObserver, event):
                self._listeners.setdefault(event, []).append(getattr(observer, event))

    def _each(self, event: str, *args: Any) -> None:
        for listener in self._listeners.get(event, ()):
            try:
                listener(*args)
            except Exception:
                owner = type(getattr(listener, "__self__", listener)).__name__
                self.log.exception("Room observer %s failed on %s", owner, event)

    def room_opened(self, room: Room) -> None:
        self._each("room_opened", room)

    def room_closed(self, room: Room) -> None:
        self._each("room_closed", room)

    def joined(self, room: Room, conn: Connection) -> None:
        self._each("joined", room, conn)

    def left(self, room: Room, conn: Connection) -> None:
        self._each("left", room, conn)

    def persisted(self, room: DocumentRoom, batch: PersistedBatch) -> None:
        self._each("persisted", room, batch)

    def save_requested(self, room: DocumentRoom, source: Source) -> None:
        self._each("save_requested", room, source)

    def file_saved(self, room: DocumentRoom, path: str, content: Any, reason: str) -> None:
        self._each("file_saved", room, path, content, reason)

    def outside_change_merged(self, room: DocumentRoom, content: Any) -> None:
        self._each("outside_change_merged", room, content)

    def file_moved(self, old: str, new: str) -> None:
        self._each("file_moved", old, new)

    def file_deleted(self, path: str, file_ids: list[str]) -> None:
        self._each("file_deleted", path, file_ids)

    def keep_open(self, room: Room) -> bool:
        for listener in self._listeners.get("keep_open", ()):
            try:
                if listener(room):
                    return True
            except Exception:
                owner = type(getattr(listener, "__self__", listener)).__name__
                self.log.exception("Room observer %s failed on keep_open", owner)
        return False


# Every event of RoomObserver (its public methods).
_EVENTS = tuple(
    name for name, value in vars(RoomObserver).items() if callable(value) and name[0] != "_"
)
