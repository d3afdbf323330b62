"""What the kernels need from a notebook's room: a narrow interface, declared here.

Kernels never touch a room's internals. They need exactly these things of the room that holds
a notebook's shared document:

1. ``apply_server_change(source, fn)``: edit the document (``fn`` runs inside one
   transaction); the change is stored, broadcast, and counts as an edit for autosave;
2. ``send_raw(message, to)``: push a RAW JSON message to the room's clients (optionally
   only to those ``to`` accepts);
3. ``keep_open(on)``: keep the room (and its saving) alive while the kernel is busy, even
   after the last client left, so outputs that keep landing are saved.

plus reading the document (``doc``) and whether anyone is in the room (``has_clients``, for
culling idle kernels). :mod:`.room_adapter` implements it over the rooms' declared extension
points (``apply_server_change``, ``send_raw``, ``hold``/``unhold``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pycrdt import Doc


class NotebookRoom(Protocol):
    """One notebook's room, as the kernels see it."""

    @property
    def doc(self) -> Doc | None:
        """The shared document, or ``None`` while the room is not open."""
        ...

    async def open(self) -> None:
        """Make sure the room is open (loads the document if needed)."""
        ...

    def apply_server_change(self, source: str, fn: Callable[[Doc], None]) -> None:
        """Run ``fn`` on the document in one transaction; stored, broadcast, saved soon.
        ``source`` names the writer in log lines."""
        ...

    def send_raw(self, message: dict[str, Any], to: Callable[[Any], bool] | None = None) -> None:
        """Send a RAW JSON message to the room's connections (those ``to`` accepts)."""
        ...

    async def keep_open(self, on: bool) -> None:
        """Hold the room open (``True``) or let it close once empty (``False``)."""
        ...

    def has_clients(self) -> bool:
        """Is anyone (other than the kernel's hold) connected to the room?"""
        ...
