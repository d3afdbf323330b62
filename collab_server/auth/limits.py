"""Counting sign-in attempts so that guessing passwords stays slow, even in parallel.

An attempt is *reserved* before the password is checked (the check takes ~50 ms off the event
loop, and counting only afterwards let hundreds of concurrent guesses through), and the
reservation is released only by a success. Two limits apply, over a sliding window:

* per account name (``max_login_failures``): guesses at one account;
* per client address (``max_login_attempts_per_address``): one person cannot lock everyone's
  account names out by spraying them, without being stopped first.

:class:`LoginLimiter` is the interface; :class:`MemoryLoginLimiter` keeps the counts in this
process (a shared store, e.g. Redis, can implement the same three methods for several
processes).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from .provider import TooManyAttempts


@dataclass(frozen=True)
class Reservation:
    """One attempt being checked: who it was for, from where, and when."""

    name: str
    address: str
    at: float
    serial: int = field(default=0)


class LoginLimiter(Protocol):
    def reserve(self, name: str, address: str) -> Reservation:
        """Count an attempt now; raise :class:`TooManyAttempts` if a limit is reached."""

    def succeed(self, reservation: Reservation) -> None:
        """The attempt was right: it no longer counts (earlier failures still do)."""

    def fail(self, reservation: Reservation) -> None:
        """The attempt was wrong: it keeps counting until it leaves the window."""


class MemoryLoginLimiter:
    """The in-process :class:`LoginLimiter` (thread-safe: reserve runs on worker threads)."""

    def __init__(self, per_name: int, per_address: int, window: float) -> None:
        self.per_name = per_name
        self.per_address = per_address
        self.window = window
        self._lock = threading.Lock()
        self._by_name: dict[str, list[Reservation]] = {}
        self._by_address: dict[str, list[Reservation]] = {}
        self._serial = 0

    def _recent(
        self, table: dict[str, list[Reservation]], key: str, now: float
    ) -> list[Reservation]:
        kept = [r for r in table.get(key, []) if r.at > now - self.window]
        if kept:
            table[key] = kept
        else:
            table.pop(key, None)
        return kept

    def reserve(self, name: str, address: str) -> Reservation:
        now = time.monotonic()
        with self._lock:
            by_name = self._recent(self._by_name, name, now)
            by_address = self._recent(self._by_address, address, now) if address else []
            for recent, limit in ((by_name, self.per_name), (by_address, self.per_address)):
                if limit > 0 and len(recent) >= limit:
                    retry = math.ceil(recent[0].at + self.window - now)
                    raise TooManyAttempts(max(retry, 1))
            self._serial += 1
            reservation = Reservation(name, address, now, self._serial)
            self._by_name.setdefault(name, []).append(reservation)
            if address:
                self._by_address.setdefault(address, []).append(reservation)
            return reservation

    def succeed(self, reservation: Reservation) -> None:
        with self._lock:
            for table, key in ((self._by_name, reservation.name),
                               (self._by_address, reservation.address)):  # fmt: skip
                if reservation in table.get(key, []):
                    table[key].remove(reservation)

    def fail(self, reservation: Reservation) -> None:
        return None  # the reservation already counts
