"""When to cut a version from a live document: a small state machine fed events and a clock.

Pure (no timers, no I/O): the room feeds it what happens, with the time, and it answers with a
:class:`Cut` when a version should be taken now. It also says when to call it next
(:meth:`CutPolicy.deadline`), so the caller schedules one timer instead of polling.

Rules:

* an explicit save (the RAW ``save`` message, Ctrl+S, JupyterLab's save) cuts a ``save``
  version — if anything was edited since the last cut;
* editing that pauses for ``idle_gap`` (2 min) cuts an ``auto`` version;
* editing that never pauses still cuts an ``auto`` version every ``max_interval`` (10 min),
  counted from the first edit since the last cut;
* a restore, a publish or a change made outside the server cuts a version of that kind at once,
  even with nothing edited (the store returns the head if the content is unchanged);
* nothing else does: the 1-second debounced write of the file is not an event here.

It also gathers who edited since the last cut, which the :class:`Cut` carries to the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cut:
    """Take a version now, of this kind, crediting these author ids (first edit first)."""

    kind: str
    authors: tuple[str, ...]


@dataclass
class CutPolicy:
    """One live document's version-cutting state. Times are seconds on a monotonic clock."""

    idle_gap: float = 120.0
    max_interval: float = 600.0
    dirty_since: float | None = None  # first edit since the last cut; None when clean
    last_edit: float | None = None
    _authors: dict[str, None] = field(default_factory=dict)  # ordered set

    @property
    def dirty(self) -> bool:
        return self.dirty_since is not None

    def _cut(self, kind: str) -> Cut:
        cut = Cut(kind, tuple(self._authors))
        self.dirty_since = None
        self.last_edit = None
        self._authors = {}
        return cut

    def edit(self, now: float, author: str | None = None) -> Cut | None:
        """Someone changed the document. Cuts if editing has gone on for ``max_interval``, or
        if the idle gap before this edit passed without a :meth:`tick` (a late timer): the
        version then also holds this edit, and nothing is ever left uncut."""
        overdue = self.last_edit is not None and now - self.last_edit >= self.idle_gap
        if self.dirty_since is None:
            self.dirty_since = now
        if author is not None:
            self._authors.setdefault(author, None)
        self.last_edit = now
        if overdue or now - self.dirty_since >= self.max_interval:
            return self._cut("auto")
        return None

    def tick(self, now: float) -> Cut | None:
        """The clock moved (a timer fired at :meth:`deadline`). Cuts on idle or on max interval."""
        if self.dirty_since is None or self.last_edit is None:
            return None
        if now - self.last_edit >= self.idle_gap or now - self.dirty_since >= self.max_interval:
            return self._cut("auto")
        return None

    def save(self, now: float) -> Cut | None:
        """An explicit save. Nothing to cut if nothing was edited since the last cut."""
        return self._cut("save") if self.dirty else None

    def restore(self, now: float) -> Cut:
        return self._cut("restore")

    def publish(self, now: float) -> Cut:
        return self._cut("publish")

    def external(self, now: float) -> Cut:
        """The file changed outside the server and was merged into the document."""
        return self._cut("external")

    def deadline(self) -> float | None:
        """When :meth:`tick` may next cut (None: nothing pending, no timer needed)."""
        if self.dirty_since is None or self.last_edit is None:
            return None
        return min(self.last_edit + self.idle_gap, self.dirty_since + self.max_interval)
