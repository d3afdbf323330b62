"""Fan-out: who is connected to a room, and handing them what the room publishes.

:class:`FanOut` is the interface a room publishes through; :class:`LocalFanOut` is the
in-process implementation (the connections of this process). A fan-out over Redis (one
stream per room, see DESIGN §14) implements the same interface. A broadcast is framed
**once** (:func:`~.protocol.websocket_frame`) and the same bytes are handed to every
connection — per broadcast, no shared cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .protocol import websocket_frame


class Connection(Protocol):
    """What a room needs from a client connection (the websocket handler implements it)."""

    user: dict[str, Any]  # the verified identity, pinned into awareness
    can_write: bool
    label: str  # for log lines: who and from where, never a token

    def send(self, message: bytes, wire: bytes | None = None) -> None:
        """Send ``message``; ``wire`` is its websocket frame when the caller has one."""
        ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class FanOut(Protocol):
    """The connections of one room and delivery to them."""

    connections: set[Connection]

    def add(self, conn: Connection) -> None: ...

    def remove(self, conn: Connection) -> None: ...

    def publish(self, message: bytes, skip: Connection | None = None) -> None:
        """Send ``message`` to every connection but ``skip``."""
        ...

    def send_to(self, message: bytes, to: Callable[[Connection], bool]) -> None:
        """Send ``message`` to the connections ``to`` accepts."""
        ...


class LocalFanOut:
    """The connections of this process."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)

    def remove(self, conn: Connection) -> None:
        self.connections.discard(conn)

    def publish(self, message: bytes, skip: Connection | None = None) -> None:
        wire = websocket_frame(message)
        for conn in list(self.connections):
            if conn is not skip:
                conn.send(message, wire)

    def send_to(self, message: bytes, to: Callable[[Connection], bool]) -> None:
        wire = websocket_frame(message)
        for conn in list(self.connections):
            if to(conn):
                conn.send(message, wire)
