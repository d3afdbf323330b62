"""The live notebooks as the versions need them (:class:`~.service.LiveNotebooks`), over the
rooms' declared extension points: ``RoomManager.get``/``open``/``release`` and
``room.apply_server_change``.

- A restore is one transaction with the source ``restore`` (its author the person who asked);
  the room stores, broadcasts and autosaves it like any edit, and concurrent edits merge as
  CRDT updates do.
- Opening a room for a restore hands it straight back to the manager (``release``), so a room
  nobody else uses closes after its usual delay, saving what the restore wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pycrdt import Doc

from ..rooms import DocumentRoom, RoomAddress, RoomManager, Source
from ..rooms.document import read_content


class RoomsAdapter:
    """The notebook rooms of one server, seen through :class:`~.service.LiveNotebooks`."""

    def __init__(self, manager: RoomManager, log: logging.Logger) -> None:
        self.manager = manager
        self.log = log

    def _room(self, file_id: str) -> DocumentRoom | None:
        room = self.manager.get(RoomAddress.notebook(file_id))
        return room if isinstance(room, DocumentRoom) else None

    def read(self, file_id: str) -> dict[str, Any] | None:
        room = self._room(file_id)
        if room is None:
            return None
        content: dict[str, Any] = read_content(room.kind, room.doc)
        return content

    async def open(self, file_id: str, path: str) -> None:
        room = await self.manager.open(RoomAddress.notebook(file_id), path)
        # Opening cancels the manager's unload timer: hand the room back, so an empty room
        # still closes (and saves) after its delay.
        self.manager.release(room)

    def apply_server_change(self, file_id: str, source: str, fn: Callable[[Doc], None]) -> bool:
        room = self._room(file_id)
        change_source = Source.restore() if source == "restore" else Source.server()
        if room is None or not room.apply_server_change(change_source, fn):
            self.log.debug("%s: change by %s dropped, the room is closed", file_id, source)
            return False
        return True
