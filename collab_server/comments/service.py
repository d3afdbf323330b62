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
  quotes, to ``metadata.collab.comments``; the notebook document itself never holds them (its
  room strips them on load), so there is one source of truth and editors cannot forge
  comments by editing metadata. A comments document that was never initialized is seeded from
  the file, re-anchoring each range.
* **An index** (SQLite table ``comment_threads``) of every thread's status and participants,
  for "my open threads across all notebooks" without opening every notebook.

All changes run on the event loop without awaiting between reading a thread and writing it
back, so concurrent replies never overwrite each other.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlite_utils
from pycrdt import Doc, Map

from ..rooms.manager import COMMENTS_KIND, RoomAddress, RoomManager
from ..rooms.room import Room
from . import model
from .anchors import RangeTracker, cell_outputs, cell_source, find_cell, locate, quote
from .model import CommentError

NOTEBOOK = "json:notebook"


def file_threads(content: Any) -> list[dict[str, Any]]:
    """The threads stored in a notebook file's metadata (malformed ones are left out)."""
    try:
        stored = content["metadata"]["collab"]["comments"]
    except (KeyError, TypeError):
        return []
    if not isinstance(stored, dict) or stored.get("schemaVersion") != model.SCHEMA_VERSION:
        return []
    threads = stored.get("threads")
    return [t for t in threads if model.valid_stored_thread(t)] if isinstance(threads, list) else []


class CommentsService:
    """Owns comment threads; rooms call it on save, handlers call it for every change."""

    def __init__(self, rooms: RoomManager, db: sqlite_utils.Database, log: logging.Logger) -> None:
        self.rooms = rooms
        self.file_ids = rooms.file_ids
        self.db = db
        self.log = log
        self._anchors: dict[str, RangeTracker] = {}
        db.conn.execute(
            "CREATE TABLE IF NOT EXISTS comment_threads (file_id TEXT NOT NULL, "
            "thread_id TEXT NOT NULL, status TEXT NOT NULL, participants TEXT NOT NULL, "
            "thread TEXT NOT NULL, PRIMARY KEY (file_id, thread_id))"
        )
        rooms.notebook_filter = self
        rooms.comments_initializer = self._initialize

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

    async def before_save(self, room: Room, content: Any) -> Any:
        file_id = room.room_id.split(":", 2)[2]
        comments_room = await self._open_comments(file_id, room.path or "")
        try:
            threads = self._refresh(file_id, room, comments_room)
        finally:
            self.rooms.release(comments_room)
        if not threads:
            return content
        content = copy.copy(content)
        metadata = dict(content.get("metadata") or {})
        collab = dict(metadata.get("collab") or {})
        collab["comments"] = {"schemaVersion": model.SCHEMA_VERSION, "threads": threads}
        metadata["collab"] = collab
        content["metadata"] = metadata
        return content

    # -- rooms ------------------------------------------------------------------------------

    async def _open_comments(self, file_id: str, path: str) -> Room:
        address = RoomAddress(f"{COMMENTS_KIND.format}:{COMMENTS_KIND.type}:{file_id}",
                              COMMENTS_KIND, file_id)  # fmt: skip
        return await self.rooms.open(address, path)

    async def _initialize(self, comments_room: Room, path: str) -> None:
        """Seed a comments document that was never initialized from the notebook file."""
        meta = comments_room.doc.get("meta", type=Map)
        if meta.get("schemaVersion") is not None:
            return
        file_id = comments_room.room_id.split(":", 2)[2]
        notebook = await self.rooms.open(RoomAddress.parse(f"{NOTEBOOK}:{file_id}"), path)
        try:
            assert notebook.disk is not None
            loaded = await notebook.disk.load()
            threads = file_threads(loaded.content)
            anchors = self._anchors_for(file_id, notebook)
            with comments_room.doc.transaction():
                stored = comments_room.doc.get("threads", type=Map)
                for thread in threads:
                    self._reanchor(thread, notebook.doc, anchors)
                    stored[thread["id"]] = json.dumps(thread)
                    self._index(file_id, thread)
                meta["schemaVersion"] = model.SCHEMA_VERSION
            if threads:
                self.log.info("Restored %d comment threads of %s from the file", len(threads), path)
        finally:
            self.rooms.release(notebook)

    @asynccontextmanager
    async def session(self, path: str) -> AsyncIterator[NotebookComments]:
        """The comments of the notebook at ``path``, with its rooms open for the duration."""
        file_id, _ = self.file_ids.index(path)
        notebook = await self.rooms.open(RoomAddress.parse(f"{NOTEBOOK}:{file_id}"), path)
        try:
            comments = await self._open_comments(file_id, path)
            try:
                yield NotebookComments(self, file_id, notebook, comments)
            finally:
                self.rooms.release(comments)
        finally:
            self.rooms.release(notebook)

    # -- anchoring --------------------------------------------------------------------------

    def _anchors_for(self, file_id: str, notebook: Room) -> RangeTracker:
        anchors = self._anchors.get(file_id)
        if anchors is None or anchors.doc is not notebook.doc:
            # A new document instance (the room was reopened): ranges are rebuilt from the
            # stored offsets and quotes by the callers (see _reanchor).
            if anchors is not None:
                anchors.close()
            anchors = RangeTracker(notebook.doc)
            self._anchors[file_id] = anchors
        return anchors

    def _reanchor(self, thread: dict[str, Any], doc: Doc, anchors: RangeTracker) -> None:
        """Attach ``thread`` to the document from its stored target (in place)."""
        target = thread["target"]
        if target["type"] == "notebook":
            thread["anchor"] = "attached"
            return
        cell = find_cell(doc, str(target.get("cellId")))
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

    def _refresh(self, file_id: str, notebook: Room, comments: Room) -> list[dict[str, Any]]:
        """Bring every thread's anchor up to date with the notebook; return all threads."""
        anchors = self._anchors_for(file_id, notebook)
        stored = comments.doc.get("threads", type=Map)
        threads = []
        changed: list[dict[str, Any]] = []
        for raw in stored.values():
            thread = json.loads(raw)
            before = json.dumps(thread, sort_keys=True)
            target = thread["target"]
            if thread["anchor"] == "attached" and target["type"] != "notebook":
                if target["type"] == "text" and thread["id"] not in anchors:
                    self._reanchor(thread, notebook.doc, anchors)
                elif target["type"] == "text":
                    place = anchors.resolve(thread["id"])
                    if place is None:
                        thread["anchor"] = "detached"  # keeps its last quote
                        anchors.forget(thread["id"])
                    else:
                        start, end, text = place
                        target.update({"start": start, "end": end, **quote(text, start, end)})
                elif find_cell(notebook.doc, target["cellId"]) is None:
                    thread["anchor"] = "detached"
            if json.dumps(thread, sort_keys=True) != before:
                changed.append(thread)
            threads.append(thread)
        if changed:
            with comments.doc.transaction():
                for thread in changed:
                    stored[thread["id"]] = json.dumps(thread)
                    self._index(file_id, thread)
        threads.sort(key=lambda t: (t.get("createdAt") or "", t["id"]))
        return threads

    # -- the cross-notebook index -------------------------------------------------------------

    def _index(self, file_id: str, thread: dict[str, Any]) -> None:
        participants = sorted(
            {thread["author"]["id"]} | {c["author"]["id"] for c in thread["comments"]}
        )
        self.db.conn.execute(
            "INSERT INTO comment_threads (file_id, thread_id, status, participants, thread) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(file_id, thread_id) DO UPDATE SET "
            "status = excluded.status, participants = excluded.participants, "
            "thread = excluded.thread",
            (file_id, thread["id"], thread["status"], json.dumps(participants), json.dumps(thread)),
        )

    def _unindex(self, file_id: str, thread_id: str) -> None:
        self.db.conn.execute(
            "DELETE FROM comment_threads WHERE file_id = ? AND thread_id = ?", (file_id, thread_id)
        )

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
                found.append((path, json.loads(thread)))
        found.sort(key=lambda item: item[1].get("createdAt") or "", reverse=True)
        return found


class NotebookComments:
    """One notebook's threads during one API request (its rooms are open meanwhile)."""

    def __init__(self, service: CommentsService, file_id: str, notebook: Room, comments: Room):
        self.service = service
        self.file_id = file_id
        self.notebook = notebook
        self.comments = comments
        self._threads = comments.doc.get("threads", type=Map)

    # -- reading ------------------------------------------------------------------------------

    def threads(self, status: str = "all") -> list[dict[str, Any]]:
        threads = self.service._refresh(self.file_id, self.notebook, self.comments)
        if status == "all":
            return threads
        return [t for t in threads if t["status"] == status]

    def thread(self, thread_id: str) -> dict[str, Any]:
        raw = self._threads.get(thread_id)
        if raw is None:
            raise CommentError(404, f"No thread {thread_id!r} on this notebook")
        return dict(json.loads(raw))

    # -- changing -----------------------------------------------------------------------------

    def _put(self, thread: dict[str, Any]) -> dict[str, Any]:
        self._threads[thread["id"]] = json.dumps(thread)
        self.comments.flush()  # in the store (and sent to subscribers) before we answer
        self.service._index(self.file_id, thread)
        self.notebook.request_save()  # the file carries the threads
        return thread

    def create(self, author: dict[str, str], target: dict[str, Any], body: str) -> dict[str, Any]:
        doc = self.notebook.doc
        if target["type"] != "notebook":
            cell = find_cell(doc, target["cellId"])
            if cell is None:
                raise CommentError(404, f"No cell with id {target['cellId']!r} in this notebook")
            if target["type"] == "output" and target["index"] >= cell_outputs(cell):
                raise CommentError(
                    400, f"Cell {target['cellId']!r} has no output {target['index']}"
                )
            if target["type"] == "text":
                source = cell_source(cell)
                text = str(source) if source is not None else ""
                if target["end"] > len(text):
                    raise CommentError(
                        400,
                        f"The range {target['start']}–{target['end']} is outside the cell's "
                        f"text ({len(text)} characters)",
                    )
                target.update(quote(text, target["start"], target["end"]))
        thread = model.new_thread(target, author, body)
        if target["type"] == "text":
            anchors = self.service._anchors_for(self.file_id, self.notebook)
            anchors.add(thread["id"], target["cellId"], text, target["start"], target["end"])
        return self._put(thread)

    def reply(self, thread_id: str, author: dict[str, str], body: str) -> dict[str, Any]:
        thread = self.thread(thread_id)
        comment = model.new_comment(author, body)
        thread["comments"].append(comment)
        self._put(thread)
        return comment

    def _comment(self, thread: dict[str, Any], comment_id: str) -> dict[str, Any]:
        for comment in thread["comments"]:
            if comment["id"] == comment_id:
                return dict(comment)
        raise CommentError(404, f"No comment {comment_id!r} in this thread")

    def edit(self, thread_id: str, comment_id: str, user_id: str, body: str) -> dict[str, Any]:
        thread = self.thread(thread_id)
        comment = self._comment(thread, comment_id)
        if comment["author"]["id"] != user_id:
            raise CommentError(403, "You can only edit your own comments")
        if comment["deleted"]:
            raise CommentError(400, "This comment was deleted; it cannot be edited")
        comment.update({"body": body, "editedAt": model.now()})
        thread["comments"] = [comment if c["id"] == comment_id else c for c in thread["comments"]]
        self._put(thread)
        return comment

    def delete_comment(self, thread_id: str, comment_id: str, user_id: str) -> dict[str, Any]:
        thread = self.thread(thread_id)
        comment = self._comment(thread, comment_id)
        if comment["author"]["id"] != user_id:
            raise CommentError(403, "You can only delete your own comments")
        # A tombstone: the thread stays readable and replies keep their place.
        comment.update({"body": "", "deleted": True, "editedAt": model.now()})
        thread["comments"] = [comment if c["id"] == comment_id else c for c in thread["comments"]]
        self._put(thread)
        return comment

    def set_status(self, thread_id: str, status: str, by: dict[str, str]) -> dict[str, Any]:
        thread = self.thread(thread_id)
        if status == "resolved":
            thread.update({"status": "resolved", "resolvedBy": by, "resolvedAt": model.now()})
        else:
            thread.update({"status": "open", "resolvedBy": None, "resolvedAt": None})
        return self._put(thread)

    def delete_thread(self, thread_id: str) -> None:
        self.thread(thread_id)  # 404 if unknown
        del self._threads[thread_id]
        self.comments.flush()
        self.service._unindex(self.file_id, thread_id)
        anchors = self.service._anchors.get(self.file_id)
        if anchors is not None:
            anchors.forget(thread_id)
        self.notebook.request_save()
