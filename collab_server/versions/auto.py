"""Automatic versions: a :class:`~collab_server.rooms.RoomObserver` that cuts versions of live
notebooks from what happens in their rooms, by :class:`~.policy.CutPolicy`.

* a stored batch with an edit → the file's policy notes it (and who made it); a timer set at
  the policy's deadline cuts an ``auto`` version after an idle gap, or after ``max_interval``
  of editing that never pauses — never one per 1-second autosave (that is no event here);
* a RAW ``save`` (Ctrl+S, JupyterLab's save) → a ``save`` version, if anything was edited;
* a change made to the file outside the server, merged into the room → an ``external`` one;
* the room closes with edits not yet in a version → an ``auto`` one, so nothing is left uncut;
* the first edit of a notebook that has no version yet → first an ``auto`` version of the
  notebook as it was before (its *baseline*, credited to nobody), so the history starts from
  the original; it also stands for jupyter_server's "first checkpoint", which the file's
  first autosave would otherwise cut.

"Who edited since the parent": the people behind the batches since the last cut, in the order
they first edited. Their names come from their connections (``joined``). The set is also kept
in the ``version_pending`` table (written only when it grows, so once per person per version):
after a crash the next version of the file still credits them. Labels, publishes, restores and
checkpoints cut by the service take the pending authors too (:meth:`AutoVersions.claim`).

Only people are credited: changes by the server, kernels (outputs), restores and the file on
disk make the document differ, but they have no person's name to show.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.db import storage_problem
from ..rooms import DocumentRoom, PersistedBatch, Room, RoomAddress, RoomObserver, Source
from ..rooms.document import read_content
from .policy import Cut, CutPolicy

if TYPE_CHECKING:
    from ..rooms.fanout import Connection
    from .service import VersionService

_SCHEMA = """
CREATE TABLE IF NOT EXISTS version_pending (
    file_id TEXT PRIMARY KEY,
    authors TEXT NOT NULL
);
"""

# Source.author of changes no person made (see rooms.events.Source.author).
_NOT_PEOPLE = frozenset({"server", "kernel", "restore", "disk"})


def _is_notebook_room(room: Room) -> bool:
    file_id = room.address.file_id
    return (
        isinstance(room, DocumentRoom)
        and file_id is not None
        and room.address == RoomAddress.notebook(file_id)
    )


class AutoVersions(RoomObserver):
    """Cuts the automatic versions of every open notebook (see the module docstring)."""

    def __init__(
        self,
        service: VersionService,
        log: logging.Logger,
        idle_gap: float = 120.0,
        max_interval: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.log = log
        self.idle_gap = idle_gap
        self.max_interval = max_interval
        self.clock = clock
        self._conn = service.db.conn
        self._conn.executescript(_SCHEMA)
        self._policies: dict[str, CutPolicy] = {}
        self._rooms: dict[str, DocumentRoom] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._names: dict[str, str] = {}  # user id → the name to show
        self._pending: dict[str, dict[str, str]] = {}  # file id → {author id: name}
        # Notebooks open without any version: their content as opened, until the first edit.
        self._baselines: dict[str, dict[str, Any]] = {}

    # -- state per file ---------------------------------------------------------------------

    def _policy(self, file_id: str) -> CutPolicy:
        policy = self._policies.get(file_id)
        if policy is None:
            policy = CutPolicy(idle_gap=self.idle_gap, max_interval=self.max_interval)
            self._policies[file_id] = policy
            stored = self._load_pending(file_id)
            if stored is not None:
                # Edits credited before a crash (or a close whose cut failed): the document
                # holds them, so the file is dirty from now, and they go in its next version.
                self._pending[file_id] = stored
                now = self.clock()
                policy.edit(now)
                for author in stored:
                    policy.edit(now, author)
        return policy

    def _load_pending(self, file_id: str) -> dict[str, str] | None:
        row = self._conn.execute(
            "SELECT authors FROM version_pending WHERE file_id = ?", [file_id]
        ).fetchone()
        if row is None:
            return None
        try:
            return {str(a["id"]): str(a["name"]) for a in json.loads(row[0])}
        except (ValueError, TypeError, KeyError):
            return {}

    def _store_pending(self, file_id: str) -> None:
        authors = [{"id": i, "name": n} for i, n in self._pending.get(file_id, {}).items()]
        self._conn.execute(
            "INSERT OR REPLACE INTO version_pending (file_id, authors) VALUES (?, ?)",
            [file_id, json.dumps(authors)],
        )

    def _authors(self, file_id: str, cut: Cut) -> list[dict[str, str]]:
        pending = self._pending.get(file_id, {})
        return [{"id": a, "name": pending.get(a) or self._names.get(a) or a} for a in cut.authors]

    def _forget_pending(self, file_id: str) -> None:
        self._pending.pop(file_id, None)
        self._conn.execute("DELETE FROM version_pending WHERE file_id = ?", [file_id])

    # -- cutting ----------------------------------------------------------------------------

    def _cut(self, room: DocumentRoom, cut: Cut) -> None:
        file_id = room.address.file_id
        assert file_id is not None
        self._cancel_timer(file_id)
        authors = self._authors(file_id, cut)
        nb: dict[str, Any] = read_content(room.kind, room.doc)
        self._pending.pop(file_id, None)
        # The stored authors go once the version holds them (a failed cut leaves them for
        # the next one), unless someone edited meanwhile: their row is the next version's.
        self.service.cut_in_background(
            file_id, nb, cut.kind, authors, done=lambda: self._stored_pending_cut(file_id)
        )

    def _stored_pending_cut(self, file_id: str) -> None:
        if file_id not in self._pending:
            self._conn.execute("DELETE FROM version_pending WHERE file_id = ?", [file_id])

    def claim(self, file_id: str) -> list[dict[str, str]]:
        """The service cuts a version itself (label, publish, restore, checkpoint): the people
        who edited since the last cut go in it, and the file's policy starts over."""
        policy = self._policies.get(file_id)
        if policy is None and self._load_pending(file_id) is None:
            return []
        cut = self._policy(file_id).save(self.clock())
        self._cancel_timer(file_id)
        authors = self._authors(file_id, cut) if cut is not None else []
        self._forget_pending(file_id)
        return authors

    def _schedule(self, room: DocumentRoom, policy: CutPolicy) -> None:
        file_id = room.address.file_id
        assert file_id is not None
        self._cancel_timer(file_id)
        deadline = policy.deadline()
        if deadline is None or room.stopped:
            return
        delay = max(0.0, deadline - self.clock())
        self._timers[file_id] = asyncio.get_running_loop().call_later(delay, self._on_timer, room)

    def _on_timer(self, room: DocumentRoom) -> None:
        file_id = room.address.file_id
        assert file_id is not None
        self._timers.pop(file_id, None)
        policy = self._policies.get(file_id)
        if policy is None or self._rooms.get(file_id) is not room or room.stopped:
            return
        try:
            cut = policy.tick(self.clock())
            if cut is not None:
                self._cut(room, cut)
            else:
                self._schedule(room, policy)  # the deadline moved (more edits came)
        except Exception as e:
            self._failed("an automatic version", file_id, e)

    def _failed(self, what: str, file_id: str, error: Exception) -> None:
        problem = storage_problem(error)
        if problem is None:
            self.log.exception("Cutting %s of %s failed", what, file_id)
        else:  # a full or locked database: expected, and said once in the room's own log
            self.log.error("Cutting %s of %s failed (%s)", what, file_id, problem)

    def _cancel_timer(self, file_id: str) -> None:
        timer = self._timers.pop(file_id, None)
        if timer is not None:
            timer.cancel()

    # -- room events ------------------------------------------------------------------------

    def room_opened(self, room: Room) -> None:
        if not _is_notebook_room(room):
            return
        assert isinstance(room, DocumentRoom) and room.address.file_id is not None
        file_id = room.address.file_id
        self._rooms[file_id] = room
        policy = self._policy(file_id)
        if not policy.dirty and self.service.store.head(file_id) is None:
            self._baselines[file_id] = read_content(room.kind, room.doc)
        self._schedule(room, policy)  # pending edits from before a restart

    def joined(self, room: Room, conn: Connection) -> None:
        user = conn.user
        user_id = str(user.get("username") or "")
        if user_id:
            name = user.get("display_name") or user.get("name") or user_id
            self._names[user_id] = str(name)

    def persisted(self, room: DocumentRoom, batch: PersistedBatch) -> None:
        if not batch.edit or not _is_notebook_room(room):
            return
        file_id = room.address.file_id
        assert file_id is not None
        self._rooms.setdefault(file_id, room)
        baseline = self._baselines.pop(file_id, None)
        if baseline is not None:
            self.service.cut_in_background(file_id, baseline, "auto", [])
        policy = self._policy(file_id)
        now = self.clock()
        people = sorted(a for a in batch.authors if a not in _NOT_PEOPLE)
        cut = policy.edit(now, people[0] if people else None)
        for author in people[1:]:
            policy.edit(now, author)
        pending = self._pending.setdefault(file_id, {})
        new = [a for a in people if a not in pending]
        if new:
            for author in new:
                pending[author] = self._names.get(author, author)
            if cut is None:
                self._store_pending(file_id)
        if cut is not None:
            self._cut(room, cut)
        else:
            self._schedule(room, policy)

    def save_requested(self, room: DocumentRoom, source: Source) -> None:
        if not _is_notebook_room(room):
            return
        room.flush()  # what the person saw when they saved is stored (and noted) first
        file_id = room.address.file_id
        assert file_id is not None
        cut = self._policy(file_id).save(self.clock())
        if cut is not None:
            self._cut(room, cut)

    def outside_change_merged(self, room: DocumentRoom, content: Any) -> None:
        if not _is_notebook_room(room):
            return
        file_id = room.address.file_id
        assert file_id is not None
        self._baselines.pop(file_id, None)
        self._cut(room, self._policy(file_id).external(self.clock()))

    def room_closed(self, room: Room) -> None:
        file_id = room.address.file_id
        if file_id is None or self._rooms.get(file_id) is not room:
            return
        assert isinstance(room, DocumentRoom)
        del self._rooms[file_id]
        self._baselines.pop(file_id, None)
        self._cancel_timer(file_id)
        policy = self._policies.pop(file_id, None)
        if room.deleted:
            self._forget_pending(file_id)
            return
        if policy is not None and policy.dirty:
            try:
                self._cut(room, policy.tick(float("inf")) or Cut("auto", ()))
            except Exception as e:
                # The pending authors stay stored: the next opening cuts the version.
                self._failed("the closing version", file_id, e)
        self._pending.pop(file_id, None)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
