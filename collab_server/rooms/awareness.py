"""Presence (awareness) for one room, with identities pinned by the server.

The reference server relays awareness updates untouched, so any client can claim any name.
Here every state a connection sends is rewritten before anyone sees it:

* its ``user`` field is replaced by the identity the server verified for that connection;
* a connection may only speak for the awareness client ids it introduced itself; an update
  for an id that another live connection owns is dropped (no one can move someone else's
  cursor or make them "leave");
* a connection speaks for at most ``max_ids`` client ids, and one state is at most
  ``max_state_bytes`` of JSON: presence is a cursor and a name, and a few huge or numerous
  states would otherwise be sent to every later joiner (past its backlog limit);
* when a socket closes, the states it owned are removed and the removal is broadcast at once
  (instead of after the 30 s timeout of y-protocols);
* a joining client is sent every current state.

Accepted changes are not sent from here: they are gathered as *pending* (latest state per
client id wins) and the room sends them in one merged frame per short window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .protocol import AwarenessEntry, decode_awareness, encode_awareness


@dataclass
class _Owned:
    owner: object  # the connection that introduced this client id
    clock: int
    state: dict[str, Any] | None


@dataclass
class AwarenessLimits:
    max_state_bytes: int = 8 * 1024  # one state's JSON (UTF-8)
    max_ids: int = 4  # client ids one connection may speak for
    only_user: bool = False  # relay nothing but the pinned ``user`` field


class TokenBucket:
    """``rate`` events per second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, now: float | None = None) -> bool:
        """Spend one token if there is one."""
        if self.rate <= 0:
            return True
        self._refill(time.monotonic() if now is None else now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait(self) -> float:
        """Seconds until a token is available (0 if one is)."""
        if self.rate <= 0:
            return 0.0
        self._refill(time.monotonic())
        return max(0.0, (1 - self.tokens) / self.rate)


class AwarenessTable:
    """The current awareness states of one room."""

    def __init__(self, limits: AwarenessLimits | None = None) -> None:
        self.limits = limits or AwarenessLimits()
        self._states: dict[int, _Owned] = {}
        self._pending: dict[int, tuple[object, AwarenessEntry]] = {}

    def __len__(self) -> int:
        return sum(1 for s in self._states.values() if s.state is not None)

    def apply(self, owner: object, user: dict[str, Any], update: bytes) -> list[str]:
        """Apply ``owner``'s awareness update; accepted changes become pending.

        Raises :class:`~collab_server.rooms.protocol.ProtocolError` on a malformed update.
        Returns why parts of it were dropped (for the room's log; empty if none were).
        """
        limits = self.limits
        dropped: list[str] = []
        for entry in decode_awareness(update, limits.max_state_bytes):
            current = self._states.get(entry.client_id)
            if current is not None and current.owner is not owner:
                continue  # someone else's id: never let one client speak for another
            if entry.oversize:
                dropped.append(f"a state above {limits.max_state_bytes} bytes")
                continue
            if current is None and self.owned_by(owner) >= limits.max_ids:
                dropped.append(f"more than {limits.max_ids} awareness client ids")
                continue
            if entry.state is not None:
                entry.state = (
                    {"user": dict(user)} if limits.only_user else {**entry.state, "user": user}
                )
            self._states[entry.client_id] = _Owned(owner, entry.clock, entry.state)
            self._pending[entry.client_id] = (owner, entry)
        return dropped

    def owned_by(self, owner: object) -> int:
        return sum(1 for owned in self._states.values() if owned.owner is owner)

    def take_pending(self) -> list[tuple[object, AwarenessEntry]]:
        """The changes accepted since the last call (latest per client id), in order."""
        pending, self._pending = list(self._pending.values()), {}
        return pending

    def snapshot(self) -> bytes | None:
        """All present states, for a client that just joined."""
        entries = [
            AwarenessEntry(client_id, owned.clock, owned.state)
            for client_id, owned in self._states.items()
            if owned.state is not None
        ]
        return encode_awareness(entries) if entries else None

    def own_snapshot(self, owner: object) -> bytes | None:
        """The present states ``owner`` introduced."""
        entries = [
            AwarenessEntry(client_id, owned.clock, owned.state)
            for client_id, owned in self._states.items()
            if owned.state is not None and owned.owner is owner
        ]
        return encode_awareness(entries) if entries else None

    def remove_owner(self, owner: object) -> None:
        """Forget every state ``owner`` introduced; their removal becomes pending."""
        removed = [cid for cid, owned in self._states.items() if owned.owner is owner]
        for client_id in removed:
            owned = self._states.pop(client_id)
            if owned.state is not None:
                # A higher clock with a null state is how y-protocols says "gone".
                self._pending[client_id] = (
                    owner,
                    AwarenessEntry(client_id, owned.clock + 1, None),
                )
            elif client_id in self._pending and self._pending[client_id][0] is owner:
                del self._pending[client_id]
