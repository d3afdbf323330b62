"""Output changes batched per cell, one batch per interval, at a bounded rate of text.

This module owns *when* output changes reach the shared document, and how small the batch
that reaches it is:

- a cell's changes are held for at least ``interval`` seconds after the first of them, then
  taken as one batch (one CRDT transaction per cell), so a loop printing thousands of lines a
  second costs a few document updates a second;
- while held, the edits to one stream output's text are *composed* exactly into the fewest
  splices of the text as the document has it (:class:`_TextEdit`): appends that follow each
  other become one append, and text that was appended and then cut again by the cell's output
  cap (see :mod:`.outputs`) never reaches the document at all; a clear drops the changes
  before it (they would be erased anyway);
- a batch that inserts much text is held longer (``max_rate`` characters a second, at most
  ``max_hold`` seconds): under a flood (a cell printing megabytes a second) the document
  takes one larger transaction every second or two instead of a dozen, and since the capped
  stream only keeps its tail, what scrolled past meanwhile is never written, stored, sent to
  every client and compacted. Every other client's typing shares that event loop.

Pure: the clock is passed in (``now`` in seconds, any monotonic origin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collab_server.kernels.outputs import (
    AppendOutput,
    ClearOutputs,
    OutputChange,
    SetOutputFields,
    SpliceText,
)

#: Default time a change may wait before it is written (seconds).
DEFAULT_INTERVAL = 0.075
#: Default rate of output text a cell's batches may bring to the document (characters per
#: second) before they are held longer than the interval.
DEFAULT_MAX_RATE = 200_000
#: A batch is never held longer than this (seconds), however much text it holds.
DEFAULT_MAX_HOLD = 3.0


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


# --- composing edits of one text ---------------------------------------------------------------


@dataclass
class _Keep:
    """Characters ``[start, end)`` of the text as the document has it (``end`` None: to its
    end); utf8 offsets alongside."""

    start: int
    start_utf8: int
    end: int | None
    end_utf8: int | None

    @property
    def chars(self) -> int | None:
        return None if self.end is None else self.end - self.start

    @property
    def utf8(self) -> int | None:
        return None if self.end_utf8 is None else self.end_utf8 - self.start_utf8


@dataclass
class _Insert:
    """New text, kept as parts (joined once, when taken: appending stays linear)."""

    parts: list[str]
    chars: int
    utf8: int

    def split(self, chars: int) -> tuple[_Insert, _Insert]:
        text = "".join(self.parts)
        left, right = text[:chars], text[chars:]
        left_utf8 = _utf8(left)
        return _Insert([left], chars, left_utf8), _Insert(
            [right], self.chars - chars, self.utf8 - left_utf8
        )


_Piece = _Keep | _Insert


class _TextEdit:
    """Splices of one stream output's text, composed: the new text as pieces of the old text
    (:class:`_Keep`) and inserted text (:class:`_Insert`), from which :meth:`splices` gives
    the fewest splices, left to right, that turn the old text into the new one.

    A splice's positions split a kept piece exactly: the splice carries both the character and
    the UTF-8 offset, and inside a kept piece both advance together.
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.pieces: list[_Piece] = [_Keep(0, 0, None, None)]

    @property
    def inserted(self) -> int:
        """Characters this edit inserts."""
        return sum(piece.chars for piece in self.pieces if isinstance(piece, _Insert))

    def _split_at(self, chars: int, utf8: int) -> int:
        """Split the pieces at a position of the new text; returns how many pieces lie
        before it."""
        pos = pos_utf8 = 0
        for k, piece in enumerate(self.pieces):
            if pos == chars:
                return k
            size = piece.chars
            if size is None or pos + size > chars:
                offset, offset_utf8 = chars - pos, utf8 - pos_utf8
                if isinstance(piece, _Keep):
                    mid, mid_utf8 = piece.start + offset, piece.start_utf8 + offset_utf8
                    left: _Piece = _Keep(piece.start, piece.start_utf8, mid, mid_utf8)
                    right: _Piece = _Keep(mid, mid_utf8, piece.end, piece.end_utf8)
                else:
                    left, right = piece.split(offset)
                self.pieces[k : k + 1] = [left, right]
                return k + 1
            pos += size
            pos_utf8 += piece.utf8 or 0
        if pos == chars:
            return len(self.pieces)
        raise ValueError("a splice past the end of the text")

    def apply(self, change: SpliceText) -> None:
        start = self._split_at(change.start, change.start_utf8)
        end = self._split_at(change.start + change.delete, change.start_utf8 + change.delete_utf8)
        replacement: list[_Piece] = []
        if change.insert:
            replacement.append(_Insert([change.insert], len(change.insert), _utf8(change.insert)))
        self.pieces[start:end] = replacement
        self._tidy(max(0, start - 1), start + 2)

    def _tidy(self, lo: int, hi: int) -> None:
        # Join neighbouring inserts and drop empty pieces around the edit, so the list stays
        # a handful of pieces however many splices were composed.
        k = lo
        while k < min(hi, len(self.pieces)):
            piece = self.pieces[k]
            if piece.chars == 0 and (isinstance(piece, _Insert) or piece.end is not None):
                del self.pieces[k]
                hi -= 1
                continue
            if k > 0:
                before = self.pieces[k - 1]
                if isinstance(before, _Insert) and isinstance(piece, _Insert):
                    before.parts.extend(piece.parts)
                    before.chars += piece.chars
                    before.utf8 += piece.utf8
                    del self.pieces[k]
                    hi -= 1
                    continue
                if (
                    isinstance(before, _Keep)
                    and isinstance(piece, _Keep)
                    and before.end == piece.start
                ):
                    before.end, before.end_utf8 = piece.end, piece.end_utf8
                    del self.pieces[k]
                    hi -= 1
                    continue
            k += 1

    def splices(self) -> list[SpliceText]:
        result: list[SpliceText] = []
        old = old_utf8 = 0  # next position of the old text not yet accounted for
        new = new_utf8 = 0  # the same place in the text as the splices so far left it
        for piece in self.pieces:
            if isinstance(piece, _Keep):
                if piece.start > old:
                    deleted, deleted_utf8 = piece.start - old, piece.start_utf8 - old_utf8
                    last = result[-1] if result else None
                    after_insert = last is not None and last.start + len(last.insert) == new
                    if last is not None and after_insert and not last.delete:
                        # Right after an insert: one splice deletes and inserts.
                        result[-1] = SpliceText(
                            self.index,
                            last.start,
                            deleted,
                            last.insert,
                            last.start_utf8,
                            deleted_utf8,
                        )
                    else:
                        result.append(
                            SpliceText(self.index, new, deleted, "", new_utf8, deleted_utf8)
                        )
                if piece.end is None or piece.end_utf8 is None:
                    break
                new += piece.end - piece.start
                new_utf8 += piece.end_utf8 - piece.start_utf8
                old, old_utf8 = piece.end, piece.end_utf8
            else:
                text = "".join(piece.parts)
                last = result[-1] if result else None
                if last is not None and not last.insert and last.start == new:
                    # A delete right here: one splice deletes and inserts.
                    result[-1] = SpliceText(
                        self.index, new, last.delete, text, new_utf8, last.delete_utf8
                    )
                else:
                    result.append(SpliceText(self.index, new, 0, text, new_utf8, 0))
                new += piece.chars
                new_utf8 += piece.utf8
        return result


# --- batches ----------------------------------------------------------------------------------


@dataclass
class _Pending:
    since: float
    changes: list[OutputChange | _TextEdit] = field(default_factory=list)
    texts: dict[int, _TextEdit] = field(default_factory=dict)

    def inserted(self) -> int:
        """Characters of text this batch brings (stream text, new outputs' text)."""
        total = 0
        for change in self.changes:
            if isinstance(change, _TextEdit):
                total += change.inserted
            elif isinstance(change, AppendOutput):
                text = change.output.get("text")
                total += len(text) if isinstance(text, str) else 0
        return total

    def flatten(self) -> list[OutputChange]:
        result: list[OutputChange] = []
        for change in self.changes:
            if isinstance(change, _TextEdit):
                result.extend(change.splices())
            else:
                result.append(change)
        return result


@dataclass
class Coalescer:
    """Holds output changes per cell; :meth:`take` hands out the batches that are due."""

    interval: float = DEFAULT_INTERVAL
    #: Characters a second a cell's batches may insert before they are held longer.
    max_rate: float = DEFAULT_MAX_RATE
    max_hold: float = DEFAULT_MAX_HOLD
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def push(self, cell_id: str, changes: list[OutputChange], now: float) -> bool:
        """Hold ``changes`` of ``cell_id`` (in order, after those already held). True when
        this made a batch due sooner than before (a new batch, or one a clear or the cap
        made smaller): whoever waits for :meth:`next_deadline` should look again."""
        if not changes:
            return False
        pending = self._pending.get(cell_id)
        if pending is None:
            pending = self._pending[cell_id] = _Pending(since=now)
            due_before = float("inf")
        else:
            due_before = self._due(pending)
        for change in changes:
            if isinstance(change, ClearOutputs):
                pending.changes.clear()
                pending.texts.clear()
                pending.changes.append(change)
            elif isinstance(change, SpliceText):
                # Edits of one text compose in place: they commute with appending outputs
                # and with setting another output's fields, the only changes in between.
                edit = pending.texts.get(change.index)
                if edit is None:
                    edit = pending.texts[change.index] = _TextEdit(change.index)
                    pending.changes.append(edit)
                edit.apply(change)
            else:
                assert isinstance(change, (AppendOutput, SetOutputFields))
                pending.changes.append(change)
        return self._due(pending) < due_before

    def _due(self, pending: _Pending) -> float:
        hold = self.interval
        if self.max_rate > 0:
            hold = max(hold, min(self.max_hold, pending.inserted() / self.max_rate))
        return pending.since + hold

    def next_deadline(self) -> float | None:
        """When the first held batch becomes due, or ``None`` when nothing is held."""
        if not self._pending:
            return None
        return min(self._due(pending) for pending in self._pending.values())

    def take(self, now: float) -> list[tuple[str, list[OutputChange]]]:
        """The batches due at ``now``, oldest first."""
        due = [
            cell_id
            for cell_id, pending in sorted(self._pending.items(), key=lambda item: item[1].since)
            if now >= self._due(pending)
        ]
        return [(cell_id, self._pending.pop(cell_id).flatten()) for cell_id in due]

    def take_cell(self, cell_id: str) -> list[OutputChange]:
        """Everything held for ``cell_id`` now, due or not (its run ended)."""
        pending = self._pending.pop(cell_id, None)
        return pending.flatten() if pending is not None else []

    def take_all(self) -> list[tuple[str, list[OutputChange]]]:
        """Everything held, due or not (shutting down)."""
        batches = sorted(self._pending.items(), key=lambda item: item[1].since)
        self._pending.clear()
        return [(cell_id, pending.flatten()) for cell_id, pending in batches]
