"""Shared counters behind small interfaces, so that several server processes can later share
them (a Redis implementation of the same methods) without their users changing.

* :class:`Revision` — a number that only grows, bumped whenever something changes that others
  must notice (e.g. a right was taken away: open websockets re-check their rights when it
  changes). :class:`MemoryRevision` keeps it in this process.

The sign-in limiter (``auth.limits.LoginLimiter``) follows the same pattern.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Revision(Protocol):
    def current(self) -> int:
        """The current value (changes after every :meth:`bump`)."""

    def bump(self) -> None:
        """Something changed: move to a new value."""


class MemoryRevision:
    """The in-process :class:`Revision` (thread-safe: bumped from worker threads)."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def current(self) -> int:
        return self._value

    def bump(self) -> None:
        with self._lock:
            self._value += 1
