"""Output changes batched per cell, one batch per interval.

This module owns *when* output changes reach the shared document: a cell's changes are held
for at most ``interval`` seconds after the first of them, then taken as one batch (one CRDT
transaction per cell), so a loop printing thousands of lines a second costs a few document
updates a second. While held, changes are merged where that is exact: appends to the same
stream output that follow each other become one append, and a clear drops the changes before
it (they would be erased anyway).

Pure: the clock is passed in (``now`` in seconds, any monotonic origin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collab_server.kernels.outputs import ClearOutputs, OutputChange, SpliceText

#: Default time a change may wait before it is written (seconds).
DEFAULT_INTERVAL = 0.075


def _merge(last: OutputChange, change: OutputChange) -> OutputChange | None:
    if (
        isinstance(last, SpliceText)
        and isinstance(change, SpliceText)
        and last.index == change.index
        and change.delete == 0
        and change.start == last.start + len(last.insert)
    ):
        # An insert right after the previous splice's inserted text extends that splice.
        return SpliceText(
            last.index,
            last.start,
            last.delete,
            last.insert + change.insert,
            last.start_utf8,
            last.delete_utf8,
        )
    return None


@dataclass
class _Pending:
    since: float
    changes: list[OutputChange] = field(default_factory=list)


@dataclass
class Coalescer:
    """Holds output changes per cell; :meth:`take` hands out the batches that are due."""

    interval: float = DEFAULT_INTERVAL
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def push(self, cell_id: str, changes: list[OutputChange], now: float) -> None:
        """Hold ``changes`` of ``cell_id`` (in order, after those already held)."""
        if not changes:
            return
        pending = self._pending.get(cell_id)
        if pending is None:
            pending = self._pending[cell_id] = _Pending(since=now)
        for change in changes:
            if isinstance(change, ClearOutputs):
                pending.changes.clear()
                pending.changes.append(change)
                continue
            if pending.changes:
                merged = _merge(pending.changes[-1], change)
                if merged is not None:
                    pending.changes[-1] = merged
                    continue
            pending.changes.append(change)

    def next_deadline(self) -> float | None:
        """When the oldest held batch becomes due, or ``None`` when nothing is held."""
        if not self._pending:
            return None
        return min(pending.since for pending in self._pending.values()) + self.interval

    def take(self, now: float) -> list[tuple[str, list[OutputChange]]]:
        """The batches due at ``now`` (held for ``interval`` or longer), oldest first."""
        due = [
            cell_id
            for cell_id, pending in sorted(self._pending.items(), key=lambda item: item[1].since)
            if now - pending.since >= self.interval
        ]
        return [(cell_id, self._pending.pop(cell_id).changes) for cell_id in due]

    def take_cell(self, cell_id: str) -> list[OutputChange]:
        """Everything held for ``cell_id`` now, due or not (its run ended)."""
        pending = self._pending.pop(cell_id, None)
        return pending.changes if pending is not None else []

    def take_all(self) -> list[tuple[str, list[OutputChange]]]:
        """Everything held, due or not (shutting down)."""
        batches = sorted(self._pending.items(), key=lambda item: item[1].since)
        self._pending.clear()
        return [(cell_id, pending.changes) for cell_id, pending in batches]
