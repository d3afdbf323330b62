"""Today's implementation of :class:`~.service.LiveNotebooks` over ``rooms.RoomManager``.

Small on purpose and meant to be replaced together with ``kernels/room_adapter.py`` once rooms
declare extension points: it uses only the public face of ``Room`` and ``RoomManager``
(``manager.rooms``, ``room.doc``, ``room.stopped``, ``room.request_save()``,
``RoomManager.open``/``release``, ``rooms.document.read_content``).

- A server change is one transaction on the document; the room stores and broadcasts it on its
  next flush. Today's room autosaves only after *client* changes, so each server change is
  followed by ``request_save()``.
- Opening a room for a restore hands it straight back to the manager (``release``), so a room
  nobody else uses closes after its usual delay, saving what the restore wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pycrdt import Doc

from ..rooms import Room, RoomManager
from ..rooms.document import read_content
from ..rooms.manager import RoomAddress


class RoomsAdapter:
    """The notebook rooms of one server, seen through :class:`~.service.LiveNotebooks`."""

    def __init__(self, manager: RoomManager, log: logging.Logger) -> None:
        self.manager = manager
        self.log = log

    def _room(self, file_id: str) -> Room | None:
        room = self.manager.rooms.get(f"json:notebook:{file_id}")
        return room if room is not None and not room.stopped else None

    def read(self, file_id: str) -> dict[str, Any] | None:
        room = self._room(file_id)
        if room is None or room.kind is None:
            return None
        content: dict[str, Any] = read_content(room.kind, room.doc)
        return content

    async def open(self, file_id: str, path: str) -> None:
        room = await self.manager.open(RoomAddress.parse(f"json:notebook:{file_id}"), path)
        # Opening cancels the manager's unload timer: hand the room back, so an empty room
        # still closes (and saves) after its delay.
        self.manager.release(room)

    def apply_server_change(self, file_id: str, source: str, fn: Callable[[Doc], None]) -> bool:
        room = self._room(file_id)
        if room is None:
            self.log.debug("%s: change by %s dropped, the room is closed", file_id, source)
            return False
        with room.doc.transaction():
            fn(room.doc)
        room.request_save()
        return True
