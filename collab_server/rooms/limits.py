"""How many sockets each person holds across the server.

:class:`ConnectionLimits` is the interface the websocket handler counts through;
:class:`LocalConnectionLimits` counts in this process. With several processes a shared
counter (Redis) implements the same interface.
"""

from __future__ import annotations

from typing import Protocol


class ConnectionLimits(Protocol):
    limit: int  # sockets one person may hold (0: no limit)

    def reserve(self, user_id: str) -> bool:
        """Count one more socket for ``user_id``; False (nothing counted) over the limit."""
        ...

    def release(self, user_id: str) -> None: ...


class LocalConnectionLimits:
    """Open sockets (and upgrades under way) per person, in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}

    def reserve(self, user_id: str) -> bool:
        count = self._counts.get(user_id, 0)
        if self.limit > 0 and count >= self.limit:
            return False
        self._counts[user_id] = count + 1
        return True

    def release(self, user_id: str) -> None:
        count = self._counts.get(user_id, 0) - 1
        if count > 0:
            self._counts[user_id] = count
        else:
            self._counts.pop(user_id, None)
