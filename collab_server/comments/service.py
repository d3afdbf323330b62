"""The comments service: threads per notebook, anchored in the notebook, saved in its file.

Where things live:

* **The comments document** — room ``json:comments:{fileId}``, a CRDT document clients sync
  and watch like any other, but only the server writes to it (the room drops every client
  update). Its map ``threads`` holds each thread as a JSON string keyed by thread id (strings,
  because CRDT maps would turn integers into floats); ``meta.schemaVersion`` marks it as
  initialized. It is stored in the update store like every document, so a comment is durable
  before the API answers.
* **Anchors** — sticky positions in the notebook document, in memory (see ``anchors``).
* **The ``.ipynb``** — every save of the notebook writes the threads, with fresh offsets and
  quotes, to ``metadata.collab.comments``, each genuine thread signed (``signing``); the
  notebook document itself never holds them (its room strips them on load), so there is one
  source of truth. A comments document that was never initialized is seeded from the file,
  re-anchoring each range; threads whose signature does not verify are *imported* (their
  people unverified: ``model.import_thread``).
* **An index** (SQLite table ``comment_threads``) of every thread's status and participants,
  for "my open threads across all notebooks" without opening every notebook.
* **A cache** of each open comments document's threads, parsed, with the form each takes in
  the file (signed), so a change costs in proportion to itself: one thread is serialised,
  indexed, signed; saving re-anchors only the ranges whose cell text changed.

Every change runs as one database transaction that is opened (waiting off the event loop
while another process holds the lock: ``db.write``) *before* the thread is read, and the
comments document is written in the same event-loop step as the commit: concurrent replies
never overwrite each other, and a busy database answers 503 without changing anything.
"""

from __future__ import annotations

import contextvars
import copy
import json
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
from pycrdt import Doc, Map
from traitlets import Integer
from traitlets.config import Configurable

from ..core import db as database
from ..core.errors import Forbidden, Invalid, NotFound, TooLarge
from ..rooms import DocumentRoom, FileRoom, RoomAddress, RoomKind, RoomManager, Source
from ..rooms.document import DocumentKind
from . import model, signing
from .anchors import RangeTracker, cell_outputs, cell_source, cells_by_id, locate, quote

# ``json:comments:{fileId}``: a notebook's comment threads, written only by the server.
COMMENTS_KIND = DocumentKind("json", "comments")
NOTEBOOK_KIND = RoomAddress.notebook("").kind
# Anchor refreshes update the index as a courtesy (it is a cache): wait less for it.
_INDEX_REFRESH_BOUND = 2.0


def _create_index(conn: sqlite3.Connection) -> None:
    # IF NOT EXISTS: databases made before schema versions already have the table.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS comment_threads (file_id TEXT NOT NULL, "
        "thread_id TEXT NOT NULL, status TEXT NOT NULL, participants TEXT NOT NULL, "
        "thread TEXT NOT NULL, PRIMARY KEY (file_id, thread_id))"
    )


MIGRATIONS = [_create_index]


def file_threads(content: Any) -> list[Any]:
    """The raw thread entries of a notebook file's metadata (unchecked: see import_thread)."""
    try:
        stored = content["metadata"]["collab"]["comments"]
    except (KeyError, TypeError):
        return []
    if not isinstance(stored, dict) or stored.get("schemaVersion") != model.SCHEMA_VERSION:
        return []
    threads = stored.get("threads")
    return threads if isinstance(threads, list) else []


@dataclass
class _Threads:
    """The threads of one comments document, parsed. Only this service writes that document,
    so the cache stays exact; it belongs to one document instance (a reopened room gets a
    new one)."""

    doc: Doc
    items: dict[str, dict[str, Any]]
    file_forms: dict[str, dict[str, Any]] = field(default_factory=dict)  # as saved, signed
    listing: list[dict[str, Any]] | None = None  # file forms in order (None: rebuild)
    anchors: RangeTracker | None = None  # the tracker of the last full anchor pass
    cell_ids: frozenset[str] = frozenset()  # the cells at that time


@dataclass
class Change:
    """What one API call does to a notebook's threads (applied after the index commit)."""

    put: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


def _legacy(thread: dict[str, Any]) -> dict[str, Any]:
    """A thread stored before people carried ``verified``: it came through the API."""
    for who in model.people(thread):
        if isinstance(who, dict) and "verified" not in who:
            who["verified"] = isinstance(who.get("id"), str)
            if not who["verified"]:
                who["id"] = None
    return thread


class CommentsService(Configurable):
    """Owns comment threads; rooms call it on save, handlers call it for every change."""

    max_threads = Integer(
        2000,
        help="Most comment threads one notebook may hold; creating another answers 413. "
        "Also the most read from a notebook file.",
    ).tag(config=True)
    max_replies = Integer(500, help="Most replies in one thread; another answers 413.").tag(
        config=True
    )

    def __init__(
        self,
        rooms: RoomManager,
        db: sqlite_utils.Database,
        log: logging.Logger,
        *,
        secret_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rooms = rooms
        self.file_ids = rooms.file_ids
        self.db = db
        self.log = log
        folder = secret_dir or database.database_dir(db)
        if folder is None:
            log.warning("No data directory: comment signatures last only while this runs")
            self.key = secrets.token_bytes(32)
        else:
            self.key = signing.load_key(folder)
        self._anchors: dict[str, RangeTracker] = {}
        self._threads: dict[str, _Threads] = {}
        # Notebook rooms saving now, by file id: seeding their comments document uses the
        # room handed to the filter, never the manager (see before_save).
        self._saving: dict[str, FileRoom] = {}
        database.migrate(db, "comments", MIGRATIONS)

    @classmethod
    def plug_into(
        cls, rooms: RoomManager, db: sqlite_utils.Database, log: logging.Logger, **kwargs: Any
    ) -> CommentsService:
        """Build the service and register it with the rooms: the ``json:comments`` room kind
        (server-authoritative, governed by ``comments:{path}`` rights, seeded from the
        notebook file) and the filter that keeps threads out of notebook documents."""
        service = cls(rooms, db, log, **kwargs)
        rooms.register_kind(
            RoomKind(
                COMMENTS_KIND,
                file_backed=False,
                resource="comments",
                initialize=service._initialize,
            )
        )
        assert NOTEBOOK_KIND is not None
        rooms.add_file_filter(NOTEBOOK_KIND, service)
        return service

    # -- the notebook file (Room's FileFilter) -----------------------------------------------

    def strip(self, content: Any) -> Any:
        if not isinstance(content, dict):
            return content
        collab = content.get("metadata", {}).get("collab")
        if not isinstance(collab, dict) or "comments" not in collab:
            return content
        content = copy.copy(content)
        content["metadata"] = dict(content["metadata"])
        rest = {k: v for k, v in collab.items() if k != "comments"}
        if rest:
            content["metadata"]["collab"] = rest
        else:
            del content["metadata"]["collab"]
        return content

    async def before_save(self, room: FileRoom, content: Any) -> Any:
        file_id = room.address.file_id
        assert file_id is not None
        # Opening the comments document may seed it from the notebook: from this room, the
        # one being saved. Opening the notebook through the manager instead would re-enter it
        # — and wait forever for a closing room's lock (its save on close is this call).
        self._saving[file_id] = room
        try:
            comments_room = await self._open_comments(file_id, room.path)
        finally:
            if self._saving.get(file_id) is room:
                del self._saving[file_id]
        try:
            changed = self._refresh(file_id, room, comments_room)
            if changed:
                await self._reindex(file_id, changed)
            threads = self._listing(file_id, self._cache(file_id, comments_room), room.path)
        finally:
            self.rooms.unhold(comments_room)
        if not threads:
            return content
        content = copy.copy(content)
        metadata = dict(content.get("metadata") or {})
        collab = dict(metadata.get("collab") or {})
        collab["comments"] = {"schemaVersion": model.SCHEMA_VERSION, "threads": threads}
        metadata["collab"] = collab
        content["metadata"] = metadata
        return content

    def _listing(self, file_id: str, cache: _Threads, path: str | None) -> list[dict[str, Any]]:
        """The threads as the file holds them, in order; only changed ones are redone."""
        if cache.listing is not None:
            return cache.listing
        listing = []
        for thread in sorted(cache.items.values(), key=_order):
            form = cache.file_forms.get(thread["id"])
            if form is None:
                form = self._file_form(file_id, thread, path)
                cache.file_forms[thread["id"]] = form
            listing.append(form)
        cache.listing = listing
        return listing

    def _file_form(self, file_id: str, thread: dict[str, Any], path: str | None) -> dict[str, Any]:
        form, repaired = model.clean_strings(thread)
        if repaired:
            # Stored before input was checked: the file gets U+FFFD instead (UTF-8 cannot
            # hold a lone surrogate, and the save would fail).
            self.log.warning(
                "Replaced invalid Unicode in comment thread %s of %s while saving",
                thread["id"],
                path,
            )
        if model.genuine(form):
            form["signature"] = signing.sign(self.key, file_id, form)
        return dict(form)

    # -- rooms ------------------------------------------------------------------------------

    # Rooms opened here are *held* until the work is done (``unhold``): a change may await the
    # database for seconds, and a room another client left meanwhile must not be unloaded under
    # it (the change would land in a closed room and be lost after its 201).

    async def _open_comments(self, file_id: str, path: str) -> DocumentRoom:
        room = await self.rooms.open(RoomAddress.document(COMMENTS_KIND, file_id), path)
        assert isinstance(room, DocumentRoom)
        self.rooms.hold(room)
        return room

    async def _open_notebook(self, file_id: str, path: str) -> FileRoom:
        room = await self.rooms.open(RoomAddress.notebook(file_id), path)
        assert isinstance(room, FileRoom)
        self.rooms.hold(room)
        return room

    async def _initialize(self, comments_room: DocumentRoom, path: str) -> None:
        """Seed a comments document that was never initialized from the notebook file."""
        meta = comments_room.doc.get("meta", type=Map)
        if meta.get("schemaVersion") is not None:
            return
        file_id = comments_room.address.file_id
        assert file_id is not None
        saving = self._saving.get(file_id)
        notebook = saving if saving is not None else await self._open_notebook(file_id, path)
        try:
            raw_threads = file_threads(await notebook.read_file())
            threads = self._import(file_id, raw_threads, path)
            anchors = self._anchors_for(file_id, notebook)
            cells = cells_by_id(notebook.doc)
            for thread in threads:
                self._reanchor(thread, cells, anchors)
            if threads:
                rows = [_index_row(file_id, t) for t in threads]
                await database.write(self.db, lambda conn: _upsert(conn, rows))

            def seed(doc: Doc) -> None:
                stored = doc.get("threads", type=Map)
                for thread in threads:
                    stored[thread["id"]] = json.dumps(thread)
                doc.get("meta", type=Map)["schemaVersion"] = model.SCHEMA_VERSION

            comments_room.apply_server_change(Source.server(), seed)
        finally:
            if saving is None:
                self.rooms.unhold(notebook)

    def _import(self, file_id: str, raw_threads: list[Any], path: str) -> list[dict[str, Any]]:
        threads: dict[str, dict[str, Any]] = {}
        unverified = repaired = dropped = 0
        for raw in raw_threads:
            if len(threads) >= self.max_threads:
                dropped += 1
                continue
            verified = signing.verify(self.key, file_id, raw)
            thread, notes = model.import_thread(raw, verified)
            if thread is None or thread["id"] in threads:
                dropped += 1
                continue
            if notes:
                repaired += 1
                self.log.warning("Comment thread read from %s repaired: %s", path, "; ".join(notes))
            unverified += not verified
            threads[thread["id"]] = thread
        if raw_threads:
            self.log.info(
                "Restored %d comment threads of %s from the file (%d imported without this "
                "server's signature, %d repaired, %d left out)",
                len(threads),
                path,
                unverified,
                repaired,
                dropped,
            )
        return list(threads.values())

    @asynccontextmanager
    async def session(self, path: str) -> AsyncIterator[NotebookComments]:
        """The comments of the notebook at ``path``, with its rooms open for the duration."""
        file_id, _ = await self.file_ids.ensure(path)
        notebook = await self._open_notebook(file_id, path)
        try:
            comments = await self._open_comments(file_id, path)
            try:
                self._sweep()
                yield NotebookComments(self, file_id, notebook, comments)
            finally:
                self.rooms.unhold(comments)
        finally:
            self.rooms.unhold(notebook)

    def _sweep(self) -> None:
        """Forget caches and trackers of documents whose rooms have closed."""
        open_docs = {id(room.doc) for room in self.rooms.rooms.values()}
        for file_id, cache in list(self._threads.items()):
            if id(cache.doc) not in open_docs:
                del self._threads[file_id]
        for file_id, anchors in list(self._anchors.items()):
            if id(anchors.doc) not in open_docs:
                anchors.close()
                del self._anchors[file_id]

    # -- the thread cache -------------------------------------------------------------------

    def _cache(self, file_id: str, comments: DocumentRoom) -> _Threads:
        cache = self._threads.get(file_id)
        if cache is None or cache.doc is not comments.doc:
            stored = comments.doc.get("threads", type=Map)
            items = {key: _legacy(json.loads(raw)) for key, raw in stored.items()}
            cache = _Threads(comments.doc, items)
            self._threads[file_id] = cache
        return cache

    def _apply(self, file_id: str, comments: DocumentRoom, change: Change) -> None:
        """Write ``change`` to the comments document (and the cache); it is in the store (and
        sent to subscribers) before anyone is answered."""
        cache = self._cache(file_id, comments)

        def write(doc: Doc) -> None:
            stored = doc.get("threads", type=Map)
            for thread in change.put:
                stored[thread["id"]] = json.dumps(thread)
                cache.items[thread["id"]] = thread
                cache.file_forms.pop(thread["id"], None)
            for thread_id in change.delete:
                if thread_id in stored:
                    del stored[thread_id]
                cache.items.pop(thread_id, None)
                cache.file_forms.pop(thread_id, None)
                anchors = self._anchors.get(file_id)
                if anchors is not None:
                    anchors.forget(thread_id)

        comments.apply_server_change(Source.server(), write)
        cache.listing = None

    # -- anchoring --------------------------------------------------------------------------

    def _anchors_for(self, file_id: str, notebook: DocumentRoom) -> RangeTracker:
        anchors = self._anchors.get(file_id)
        if anchors is None or anchors.doc is not notebook.doc:
            # A new document instance (the room was reopened): ranges are rebuilt from the
            # stored offsets and quotes by the callers (see _reanchor).
            if anchors is not None:
                anchors.close()
            anchors = RangeTracker(notebook.doc)
            self._anchors[file_id] = anchors
        return anchors

    def _reanchor(
        self, thread: dict[str, Any], cells: dict[str, Map], anchors: RangeTracker
    ) -> None:
        """Attach ``thread`` to the document from its stored target (in place)."""
        target = thread["target"]
        if target["type"] == "notebook":
            thread["anchor"] = "attached"
            return
        cell = cells.get(str(target.get("cellId")))
        if cell is None:
            thread["anchor"] = "detached"
            return
        if target["type"] != "text":
            thread["anchor"] = "attached"
            return
        source = cell_source(cell)
        text = str(source) if source is not None else ""
        place = locate(text, target) if thread.get("anchor") != "detached" else None
        if place is None or source is None:
            thread["anchor"] = "detached"
            return
        start, end = place
        target.update({"start": start, "end": end, **quote(text, start, end)})
        anchors.add(thread["id"], target["cellId"], text, start, end)
        thread["anchor"] = "attached"

    def _refresh(self, file_id: str, notebook: DocumentRoom, comments: DocumentRoom) -> list[str]:
        """Bring anchors up to date with the notebook; returns the ids of changed threads.

        Only threads that may have moved are looked at: text ranges whose cell was edited
        since the last refresh, plus — when cells came or went, or the notebook document is
        a new instance — every attached thread."""
        cache = self._cache(file_id, comments)
        anchors = self._anchors_for(file_id, notebook)
        cells = cells_by_id(notebook.doc)
        cell_ids = frozenset(cells)
        if cache.anchors is not anchors or cache.cell_ids != cell_ids:
            candidates: Iterable[str] = list(cache.items)
        else:
            candidates = [key for key in anchors.touched if key in cache.items]
        anchors.touched.clear()
        changed = []
        for thread_id in candidates:
            thread = cache.items[thread_id]
            if thread["anchor"] != "attached" or thread["target"]["type"] == "notebook":
                continue
            updated = copy.deepcopy(thread)
            self._follow(updated, cells, anchors)
            if updated != thread:
                changed.append(updated)
        cache.anchors, cache.cell_ids = anchors, cell_ids
        if changed:
            self._apply(file_id, comments, Change(put=changed))
        return [t["id"] for t in changed]

    def _follow(self, thread: dict[str, Any], cells: dict[str, Map], anchors: RangeTracker) -> None:
        target = thread["target"]
        if target["type"] != "text":
            if target["cellId"] not in cells:
                thread["anchor"] = "detached"
            return
        if thread["id"] not in anchors:
            self._reanchor(thread, cells, anchors)
            return
        place = anchors.resolve(thread["id"], cells)
        if place is None:
            thread["anchor"] = "detached"  # keeps its last quote
            anchors.forget(thread["id"])
            return
        start, end, text = place
        target.update({"start": start, "end": end, **quote(text, start, end)})

    # -- the cross-notebook index -------------------------------------------------------------

    async def _reindex(self, file_id: str, thread_ids: list[str]) -> None:
        """Update index rows after anchors moved (the current threads, read at commit)."""
        cache = self._threads.get(file_id)

        def work(conn: sqlite3.Connection) -> None:
            if cache is None:
                return
            rows = [_index_row(file_id, cache.items[i]) for i in thread_ids if i in cache.items]
            _upsert(conn, rows)

        try:
            await database.write(self.db, work, bound=_INDEX_REFRESH_BOUND)
        except database.DatabaseBusy:
            self.log.warning("The comment index of file %s is behind: database busy", file_id)

    def indexed(
        self, status: str | None, participant: str | None
    ) -> list[tuple[str, dict[str, Any]]]:
        """(path, thread) of indexed threads, by status and participant, newest first."""
        sql = "SELECT file_id, participants, thread FROM comment_threads"
        rows = self.db.conn.execute(
            sql + (" WHERE status = ?" if status else ""), (status,) if status else ()
        ).fetchall()
        found = []
        for file_id, participants, thread in rows:
            if participant and participant not in json.loads(participants):
                continue
            path = self.file_ids.get_path(file_id)
            if path is not None:
                parsed = json.loads(thread)
                if participant and not model.involves(_legacy(parsed), participant):
                    continue
                found.append((path, parsed))
        found.sort(key=lambda item: item[1].get("createdAt") or "", reverse=True)
        return found


def _order(thread: dict[str, Any]) -> tuple[str, str]:
    return (thread.get("createdAt") or "", thread["id"])


def _index_row(file_id: str, thread: dict[str, Any]) -> tuple[str, str, str, str, str]:
    participants = json.dumps(model.participants(thread))
    return (file_id, thread["id"], thread["status"], participants, json.dumps(thread))


def _upsert(conn: sqlite3.Connection, rows: list[tuple[str, str, str, str, str]]) -> None:
    conn.executemany(
        "INSERT INTO comment_threads (file_id, thread_id, status, participants, thread) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(file_id, thread_id) DO UPDATE SET "
        "status = excluded.status, participants = excluded.participants, "
        "thread = excluded.thread",
        rows,
    )


class NotebookComments:
    """One notebook's threads during one API request (its rooms are open meanwhile)."""

    def __init__(
        self,
        service: CommentsService,
        file_id: str,
        notebook: FileRoom,
        comments: DocumentRoom,
    ) -> None:
        self.service = service
        self.file_id = file_id
        self.notebook = notebook
        self.comments = comments

    # -- reading ------------------------------------------------------------------------------

    async def threads(self, status: str = "all") -> list[dict[str, Any]]:
        service = self.service
        changed = service._refresh(self.file_id, self.notebook, self.comments)
        if changed:
            await service._reindex(self.file_id, changed)
        items = service._cache(self.file_id, self.comments).items.values()
        return sorted((t for t in items if status in ("all", t["status"])), key=_order)

    def thread(self, thread_id: str) -> dict[str, Any]:
        """A copy of the thread (to change and put back), or 404."""
        found = None
        if model.is_uuid(thread_id):
            found = self.service._cache(self.file_id, self.comments).items.get(thread_id)
        if found is None:
            raise NotFound("No such thread on this notebook")
        return copy.deepcopy(found)

    # -- changing -----------------------------------------------------------------------------

    async def _change(self, work: Callable[[], tuple[Any, Change]]) -> Any:
        """Run ``work`` (read, check, decide: synchronous) inside one database transaction
        with the index rows it implies; then apply its change to the comments document in
        the same event-loop step as the commit."""
        outcome: list[tuple[Any, Change]] = []

        def in_transaction(conn: sqlite3.Connection) -> None:
            outcome.clear()
            result, change = work()
            _upsert(conn, [_index_row(self.file_id, t) for t in change.put])
            conn.executemany(
                "DELETE FROM comment_threads WHERE file_id = ? AND thread_id = ?",
                [(self.file_id, i) for i in change.delete],
            )
            outcome.append((result, change))

        await database.write(self.service.db, in_transaction)
        # No await since the commit: nothing else has changed these threads meanwhile.
        result, change = outcome[0]
        self.service._apply(self.file_id, self.comments, change)
        # The file carries the threads. Saved outside this request's context: a comment is
        # no authorship of the notebook (the gallery takes the first person whose request
        # saved a notebook for its owner).
        contextvars.Context().run(self.notebook.request_save)
        return result

    async def create(
        self, author: dict[str, Any], target: dict[str, Any], body: str
    ) -> dict[str, Any]:
        service = self.service

        def work() -> tuple[Any, Change]:
            count = len(service._cache(self.file_id, self.comments).items)
            if count >= service.max_threads:
                raise TooLarge(
                    f"This notebook has {count} comment threads, the most it may hold "
                    f"({service.max_threads}); delete resolved ones to make room",
                )
            chosen = dict(target)
            text = ""
            if chosen["type"] != "notebook":
                cell = cells_by_id(self.notebook.doc).get(chosen["cellId"])
                if cell is None:
                    raise NotFound("No cell with that id in this notebook")
                if chosen["type"] == "output" and chosen["index"] >= cell_outputs(cell):
                    raise Invalid(
                        f"That cell has no output {chosen['index']} (it has "
                        f"{cell_outputs(cell)})",
                    )  # fmt: skip
                if chosen["type"] == "text":
                    source = cell_source(cell)
                    text = str(source) if source is not None else ""
                    if chosen["end"] > len(text):
                        raise Invalid(
                            f"The range {chosen['start']}–{chosen['end']} is outside the "
                            f"cell's text ({len(text)} characters)",
                        )
                    chosen.update(quote(text, chosen["start"], chosen["end"]))
            thread = model.new_thread(chosen, author, body)
            source_text[:] = [text]
            return thread, Change(put=[thread])

        source_text: list[str] = []
        thread = dict(await self._change(work))
        # Still the event-loop step of the commit: the text is as ``work`` read it.
        target = thread["target"]
        if target["type"] == "text":
            anchors = service._anchors_for(self.file_id, self.notebook)
            anchors.add(thread["id"], target["cellId"], source_text[0], target["start"],
                        target["end"])  # fmt: skip
        return thread

    async def reply(self, thread_id: str, author: dict[str, Any], body: str) -> dict[str, Any]:
        service = self.service

        def work() -> tuple[Any, Change]:
            thread = self.thread(thread_id)
            replies = len(thread["comments"]) - 1
            if replies >= service.max_replies:
                raise TooLarge(
                    f"This thread has {replies} replies, the most one may hold "
                    f"({service.max_replies}); start a new thread",
                )
            comment = model.new_comment(author, body)
            thread["comments"].append(comment)
            return comment, Change(put=[thread])

        return dict(await self._change(work))

    def _comment(self, thread: dict[str, Any], comment_id: str) -> dict[str, Any]:
        if model.is_uuid(comment_id):
            for comment in thread["comments"]:
                if comment["id"] == comment_id:
                    return dict(comment)
        raise NotFound("No such comment in this thread")

    def _may_change(
        self, comment: dict[str, Any], user_id: str, may_write: bool, verb: str
    ) -> None:
        author = comment["author"]
        if model.is_verified(author):
            if author["id"] != user_id:
                raise Forbidden(f"You can only {verb} your own comments")
        elif not may_write:
            raise Forbidden(
                f"Only editors may {verb} imported comments (their author is unverified)"
            )

    async def edit(
        self, thread_id: str, comment_id: str, user_id: str, body: str, may_write: bool
    ) -> dict[str, Any]:
        def work() -> tuple[Any, Change]:
            thread = self.thread(thread_id)
            comment = self._comment(thread, comment_id)
            self._may_change(comment, user_id, may_write, "edit")
            if comment["deleted"]:
                raise Invalid("This comment was deleted; it cannot be edited")
            comment.update({"body": body, "editedAt": model.now()})
            thread["comments"] = [comment if c["id"] == comment_id else c
                                  for c in thread["comments"]]  # fmt: skip
            return comment, Change(put=[thread])

        return dict(await self._change(work))

    async def delete_comment(
        self, thread_id: str, comment_id: str, user_id: str, may_write: bool
    ) -> dict[str, Any]:
        def work() -> tuple[Any, Change]:
            thread = self.thread(thread_id)
            comment = self._comment(thread, comment_id)
            self._may_change(comment, user_id, may_write, "delete")
            # A tombstone: the thread stays readable and replies keep their place.
            comment.update({"body": "", "deleted": True, "editedAt": model.now()})
            thread["comments"] = [comment if c["id"] == comment_id else c
                                  for c in thread["comments"]]  # fmt: skip
            return comment, Change(put=[thread])

        return dict(await self._change(work))

    async def set_status(self, thread_id: str, status: str, by: dict[str, Any]) -> dict[str, Any]:
        def work() -> tuple[Any, Change]:
            thread = self.thread(thread_id)
            if status == "resolved":
                thread.update({"status": "resolved", "resolvedBy": by, "resolvedAt": model.now()})
            else:
                thread.update({"status": "open", "resolvedBy": None, "resolvedAt": None})
            return thread, Change(put=[thread])

        return dict(await self._change(work))

    async def delete_thread(self, thread_id: str, user_id: str, may_write: bool) -> None:
        def work() -> tuple[Any, Change]:
            thread = self.thread(thread_id)  # 404 if unknown
            author = thread["author"]
            own = model.is_verified(author) and author["id"] == user_id
            if not may_write and not own:
                raise Forbidden("Only editors and the thread's author may delete it")
            return None, Change(delete=[thread_id])

        await self._change(work)
