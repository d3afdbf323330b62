"""The execution queue of one kernel.

This module owns the order in which a shared kernel runs cells, whoever asked:

- first in, first out; one cell runs at a time;
- a batch ("run all", or several cells in one request) is queued in one step, so another
  person's cells never land in the middle of it;
- when a cell of a batch fails, the rest of that batch leaves the queue (its cells go back to
  idle); cells queued by other requests still run;
- interrupt drains the queue (the running cell is ended by the kernel's interrupt); restart
  drains it and resets the running cell too;
- a cell already waiting in the queue is not queued again (it runs once); a cell that is
  running may be queued again (a new run after this one).

Pure: timestamps are passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class QueuedCell:
    """One cell waiting (or running): who asked, when, in which batch."""

    cell_id: str
    who: str
    queued_at: datetime
    batch: int


@dataclass
class ExecutionQueue:
    _pending: deque[QueuedCell] = field(default_factory=deque)
    _running: QueuedCell | None = None
    _batches: int = 0

    @property
    def running(self) -> QueuedCell | None:
        return self._running

    @property
    def pending(self) -> tuple[QueuedCell, ...]:
        return tuple(self._pending)

    def is_waiting(self, cell_id: str) -> bool:
        return any(item.cell_id == cell_id for item in self._pending)

    def enqueue(self, cell_ids: Iterable[str], who: str, now: datetime) -> list[QueuedCell]:
        """Queue cells as one batch; returns those newly queued (cells already waiting are
        left where they are)."""
        self._batches += 1
        waiting = {item.cell_id for item in self._pending}
        added: list[QueuedCell] = []
        for cell_id in cell_ids:
            if cell_id in waiting:
                continue
            waiting.add(cell_id)
            added.append(QueuedCell(cell_id, who, now, self._batches))
        self._pending.extend(added)
        return added

    def start_next(self) -> QueuedCell | None:
        """Take the next cell to run, or ``None`` when the queue is empty or a cell runs."""
        if self._running is not None or not self._pending:
            return None
        self._running = self._pending.popleft()
        return self._running

    def finish(self, failed: bool) -> tuple[QueuedCell | None, list[QueuedCell]]:
        """The running cell ended; when it failed, the rest of its batch is dropped.

        Returns the cell that ended and the cells dropped (they go back to idle)."""
        ended, self._running = self._running, None
        if ended is None or not failed:
            return ended, []
        dropped = [item for item in self._pending if item.batch == ended.batch]
        self._pending = deque(item for item in self._pending if item.batch != ended.batch)
        return ended, dropped

    def drain(self) -> list[QueuedCell]:
        """Interrupt: every waiting cell leaves the queue (returned, in order)."""
        drained = list(self._pending)
        self._pending.clear()
        return drained

    def reset(self) -> tuple[QueuedCell | None, list[QueuedCell]]:
        """Restart (or the kernel died): the running cell and every waiting cell leave."""
        running, self._running = self._running, None
        return running, self.drain()
