"""Presence (awareness) for one room, with identities pinned by the server.

The reference server relays awareness updates untouched, so any client can claim any name.
Here every state a connection sends is rewritten before anyone sees it:

* its ``user`` field is replaced by the identity the server verified for that connection;
* a connection may only speak for the awareness client ids it introduced itself; an update
  for an id that another live connection owns is dropped (no one can move someone else's
  cursor or make them "leave");
* when a socket closes, the states it owned are removed and the removal is broadcast at once
  (instead of after the 30 s timeout of y-protocols);
* a joining client is sent every current state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .protocol import AwarenessEntry, decode_awareness, encode_awareness


@dataclass
class _Owned:
    owner: object  # the connection that introduced this client id
    clock: int
    state: dict[str, Any] | None


class AwarenessTable:
    """The current awareness states of one room."""

    def __init__(self) -> None:
        self._states: dict[int, _Owned] = {}

    def __len__(self) -> int:
        return sum(1 for s in self._states.values() if s.state is not None)

    def apply(self, owner: object, user: dict[str, Any], update: bytes) -> bytes | None:
        """Apply ``owner``'s awareness update; return the rewritten update to broadcast.

        Raises :class:`~collab_server.rooms.protocol.ProtocolError` on a malformed update.
        Returns None when nothing in it was accepted.
        """
        accepted: list[AwarenessEntry] = []
        for entry in decode_awareness(update):
            current = self._states.get(entry.client_id)
            if current is not None and current.owner is not owner:
                continue  # someone else's id: never let one client speak for another
            if entry.state is not None:
                entry.state["user"] = dict(user)
            self._states[entry.client_id] = _Owned(owner, entry.clock, entry.state)
            accepted.append(entry)
        return encode_awareness(accepted) if accepted else None

    def snapshot(self) -> bytes | None:
        """All present states, for a client that just joined."""
        entries = [
            AwarenessEntry(client_id, owned.clock, owned.state)
            for client_id, owned in self._states.items()
            if owned.state is not None
        ]
        return encode_awareness(entries) if entries else None

    def remove_owner(self, owner: object) -> bytes | None:
        """Forget every state ``owner`` introduced; return the removal update to broadcast."""
        removed = [cid for cid, owned in self._states.items() if owned.owner is owner]
        entries = []
        for client_id in removed:
            owned = self._states.pop(client_id)
            if owned.state is not None:
                # A higher clock with a null state is how y-protocols says "gone".
                entries.append(AwarenessEntry(client_id, owned.clock + 1, None))
        return encode_awareness(entries) if entries else None

    def users(self) -> list[dict[str, Any]]:
        """The pinned identities of everyone present (for the REST presence view)."""
        return [
            owned.state["user"]
            for owned in self._states.values()
            if owned.state is not None and "user" in owned.state
        ]
