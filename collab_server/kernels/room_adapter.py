"""Today's implementation of :class:`~.room_api.NotebookRoom` over ``rooms.Room``.

Small on purpose and meant to be replaced once rooms declare extension points: it uses only
the public face of ``Room`` and ``RoomManager`` (``room.doc``, ``room.flush()``,
``room.request_save()``, ``room.connections`` and ``conn.send``, ``room.join``/``leave``,
``RoomManager.open``/``release``, ``rooms.protocol.raw_json``).

- A server change is one transaction on the document; the room stores and broadcasts it on
  its next flush. Today's room autosaves only after *client* changes, so each server change
  is followed by ``request_save()``.
- Keeping a room open: today's manager unloads a room once it has no connections, so the
  hold is a connection of its own that never sends or receives (it joins the room and leaves
  it). The restructured manager's ``keep_open`` hook replaces it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pycrdt import Doc

from ..rooms import Room, RoomManager
from ..rooms.manager import RoomAddress
from ..rooms.protocol import raw_json


class _Hold:
    """The kernel's place in the room: keeps the manager from unloading it. Never sends."""

    user: dict[str, Any] = {"username": "", "name": "kernel", "display_name": "kernel"}
    can_write = False
    label = "kernel"

    def send(self, frame: bytes) -> None:
        return None

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        return None


class RoomAdapter:
    """One notebook's room, seen through :class:`~.room_api.NotebookRoom`."""

    def __init__(
        self,
        manager: RoomManager,
        file_id: str,
        path_of: Callable[[], str | None],
        log: logging.Logger,
    ) -> None:
        self.manager = manager
        self.room_id = f"json:notebook:{file_id}"
        self.path_of = path_of
        self.log = log
        self._hold = _Hold()
        self._held: Room | None = None

    def _room(self) -> Room | None:
        room = self.manager.rooms.get(self.room_id)
        return room if room is not None and not room.stopped else None

    @property
    def doc(self) -> Doc | None:
        room = self._room()
        return room.doc if room is not None else None

    async def _open(self) -> Room:
        path = self.path_of()
        if path is None:
            raise FileNotFoundError("the notebook no longer exists")
        return await self.manager.open(RoomAddress.parse(self.room_id), path)

    async def open(self) -> None:
        room = await self._open()
        if self._held is not room:
            # Opening cancels the manager's unload timer: hand the room back, so an empty room
            # still closes after its delay.
            self.manager.release(room)

    def apply_server_change(self, source: str, fn: Callable[[Doc], None]) -> None:
        room = self._room()
        if room is None:
            self.log.debug("%s: change by %s dropped, the room is closed", self.room_id, source)
            return
        with room.doc.transaction():
            fn(room.doc)
        room.request_save()

    def send_raw(self, message: dict[str, Any], to: Callable[[Any], bool] | None = None) -> None:
        room = self._room()
        if room is None:
            return
        frame = raw_json(message)
        for conn in list(room.connections):
            if conn is self._hold or (to is not None and not to(conn)):
                continue
            conn.send(frame)

    async def keep_open(self, on: bool) -> None:
        if on:
            room = await self._open()
            if self._held is not room:
                room.join(self._hold)
                self._held = room
            return
        held, self._held = self._held, None
        if held is not None and not held.stopped:
            held.flush()
            held.leave(self._hold)
            self.manager.release(held)

    def has_clients(self) -> bool:
        room = self._room()
        return room is not None and any(conn is not self._hold for conn in room.connections)
