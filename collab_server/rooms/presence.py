"""Presence of one room: awareness states, rate-limited per connection, sent in windows.

States are rewritten by :class:`~.awareness.AwarenessTable` (the verified identity pinned in,
one client may not speak for another), limited per connection with a token bucket (over the
rate only the latest state is kept: only frequency is lost), and the changes of one
``awareness_window`` go out as one frame. ``mode`` "all" sends every state to everyone;
"self" sends each connection only its own states (the global presence room, where people of
other tenants meet).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .awareness import AwarenessLimits, AwarenessTable, TokenBucket
from .fanout import Connection, FanOut
from .protocol import ProtocolError, awareness_frame, encode_awareness

if TYPE_CHECKING:
    from .room import RoomSettings


class Presence:
    def __init__(
        self,
        room_id: str,
        *,
        fanout: FanOut,
        settings: RoomSettings,
        log: logging.Logger,
        mode: str = "all",
        limits: AwarenessLimits | None = None,
    ) -> None:
        self.room_id = room_id
        self.fanout = fanout
        self.settings = settings
        self.log = log
        self.mode = mode
        self.table = AwarenessTable(limits or settings.awareness)
        self._buckets: dict[Connection, TokenBucket] = {}
        self._held: dict[Connection, bytes] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._warned: set[Connection] = set()

    def snapshot_for(self, conn: Connection) -> bytes | None:
        """The awareness frame a connection is sent on joining or asking (or None)."""
        present = self.table.own_snapshot(conn) if self.mode == "self" else self.table.snapshot()
        return awareness_frame(present) if present is not None else None

    def remove(self, conn: Connection) -> None:
        self._buckets.pop(conn, None)
        self._held.pop(conn, None)
        self._warned.discard(conn)
        self.table.remove_owner(conn)
        self._schedule(0.0)  # departures are shown at once

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def receive(self, conn: Connection, payload: bytes) -> None:
        """A connection's awareness update (raises ProtocolError if malformed)."""
        bucket = self._buckets.get(conn)
        if bucket is None:
            settings = self.settings
            bucket = TokenBucket(settings.awareness_rate, settings.awareness_burst)
            self._buckets[conn] = bucket
        if conn in self._held or not bucket.take():
            # Over the rate: keep only the latest update; it goes out when a token is due.
            self._held[conn] = payload
            self._schedule(max(bucket.wait(), self.settings.awareness_window))
            return
        self._apply(conn, payload)
        self._schedule(self.settings.awareness_window)

    def _apply(self, conn: Connection, payload: bytes) -> None:
        dropped = self.table.apply(conn, conn.user, payload)
        if dropped and conn not in self._warned:
            self._warned.add(conn)  # once per connection: a flood must not flood the log
            self.log.warning(
                "Dropped awareness from %s in %s: %s (further drops not logged)",
                conn.label,
                self.room_id,
                "; ".join(sorted(set(dropped))),
            )

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            if delay > 0:
                return  # a send is already due; it takes this change along
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, self._send)

    def _send(self) -> None:
        """Send the presence changes gathered since the last call: one merged frame."""
        self._timer = None
        if self._held:
            for conn, payload in list(self._held.items()):
                bucket = self._buckets.get(conn)
                if bucket is None or not bucket.take():
                    continue
                del self._held[conn]
                try:
                    self._apply(conn, payload)
                except ProtocolError as e:
                    self.log.warning("Closing %s in %s: %s", conn.label, self.room_id, e)
                    conn.close(1002, f"Protocol error: {e}"[:120])
            if self._held:
                waits = [b.wait() for c, b in self._buckets.items() if c in self._held]
                self._schedule(max(min(waits, default=0.0), 0.01))
        pending = self.table.take_pending()
        if not pending:
            return
        if self.mode == "self":
            mine: dict[object, list[Any]] = {}
            for owner, entry in pending:
                mine.setdefault(owner, []).append(entry)
            for conn in list(self.fanout.connections):
                entries = mine.get(conn)
                if entries:
                    conn.send(awareness_frame(encode_awareness(entries)))
            return
        self.fanout.publish(awareness_frame(encode_awareness([e for _, e in pending])))
