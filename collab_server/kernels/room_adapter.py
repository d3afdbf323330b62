"""The notebook room as the kernels need it (:class:`~.room_api.NotebookRoom`), over the rooms'
declared extension points: ``RoomManager.open``/``get``/``hold``/``unhold``,
``room.apply_server_change`` and ``room.send_raw``.

- A kernel's change is one transaction with the source ``kernel`` (the person whose kernel it
  is as its author); the room stores, broadcasts and autosaves it like any edit.
- While the kernel has work (queued or running cells, a pending prompt), the room is held open
  even with nobody connected, so outputs keep landing and are saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pycrdt import Doc

from ..rooms import DocumentRoom, Room, RoomAddress, RoomManager, Source


class RoomAdapter:
    """One notebook's room, seen through :class:`~.room_api.NotebookRoom`."""

    def __init__(
        self,
        manager: RoomManager,
        file_id: str,
        path_of: Callable[[], str | None],
        log: logging.Logger,
        author: str | None = None,
    ) -> None:
        self.manager = manager
        self.address = RoomAddress.notebook(file_id)
        self.room_id = self.address.room_id
        self.path_of = path_of
        self.log = log
        self.author = author
        self._held: Room | None = None

    def _room(self) -> DocumentRoom | None:
        room = self.manager.get(self.address)
        return room if isinstance(room, DocumentRoom) else None

    @property
    def doc(self) -> Doc | None:
        room = self._room()
        return room.doc if room is not None else None

    async def _open(self) -> Room:
        path = self.path_of()
        if path is None:
            raise FileNotFoundError("the notebook no longer exists")
        return await self.manager.open(self.address, path)

    async def open(self) -> None:
        room = await self._open()
        if self._held is not room:
            # Opening cancels the manager's unload timer: hand the room back, so an empty room
            # still closes after its delay.
            self.manager.release(room)

    def apply_server_change(self, source: str, fn: Callable[[Doc], None]) -> None:
        room = self._room()
        if room is None or not room.apply_server_change(Source.kernel(self.author), fn):
            self.log.debug("%s: change by %s dropped, the room is closed", self.room_id, source)

    def send_raw(self, message: dict[str, Any], to: Callable[[Any], bool] | None = None) -> None:
        room = self._room()
        if room is not None:
            room.send_raw(message, to)

    async def keep_open(self, on: bool) -> None:
        if on:
            room = await self._open()
            if self._held is not room:
                if self._held is not None:
                    self.manager.unhold(self._held)
                self.manager.hold(room)
                self._held = room
            return
        held, self._held = self._held, None
        if held is not None:
            self.manager.unhold(held)

    def has_clients(self) -> bool:
        room = self._room()
        return room is not None and bool(room.connections)
