"""The shape of comment threads (DESIGN section 4) and the validation of what clients send.

A thread, as the API returns it and as ``metadata.collab.comments.threads`` stores it::

    {"id", "target": {"type", "cellId"?, "start"?, "end"?, "index"?, "exact"?, "prefix"?,
     "suffix"?}, "anchor": "attached"|"detached", "status": "open"|"resolved",
     "resolvedBy": {"id","name"}|null, "resolvedAt": ISO-8601|null, "createdAt", "author",
     "comments": [{"id", "author", "body", "createdAt", "editedAt", "deleted"}]}

The first comment of ``comments`` is the thread's opening comment. Errors are raised as
:class:`CommentError` with the HTTP status and a message for a person.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

SCHEMA_VERSION = 1
MAX_BODY = 10_000  # characters of Markdown per comment
TARGET_TYPES = ("notebook", "cell", "text", "output")
STATUSES = ("open", "resolved")


class CommentError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


def body_of(payload: dict[str, Any]) -> str:
    body = payload.get("body")
    if not isinstance(body, str):
        raise CommentError(400, '"body" must be a string of Markdown')
    if not body.strip():
        raise CommentError(400, "A comment cannot be empty")
    if len(body) > MAX_BODY:
        raise CommentError(
            400, f"A comment is at most {MAX_BODY} characters (this one is {len(body)})"
        )
    return body


def _integer(target: dict[str, Any], name: str) -> int:
    value = target.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommentError(400, f'target "{name}" must be an integer')
    return value


def target_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The target a client asked for, checked for shape (not yet against the notebook)."""
    target = payload.get("target")
    if not isinstance(target, dict):
        raise CommentError(400, '"target" must be an object such as {"type": "notebook"}')
    kind = target.get("type")
    if kind not in TARGET_TYPES:
        raise CommentError(400, f'target "type" must be one of {", ".join(TARGET_TYPES)}')
    if kind == "notebook":
        return {"type": "notebook"}
    cell_id = target.get("cellId")
    if not isinstance(cell_id, str) or not cell_id:
        raise CommentError(400, f'a {kind} target needs "cellId" (a string)')
    if kind == "cell":
        return {"type": "cell", "cellId": cell_id}
    if kind == "output":
        index = _integer(target, "index")
        if index < 0:
            raise CommentError(400, 'target "index" must be 0 or more')
        return {"type": "output", "cellId": cell_id, "index": index}
    start, end = _integer(target, "start"), _integer(target, "end")
    if start < 0 or end < 0:
        raise CommentError(400, "A range cannot start or end before the text (negative offset)")
    if start > end:
        raise CommentError(400, f"A range must start before it ends (start {start} > end {end})")
    if start == end:
        raise CommentError(400, "A text range cannot be empty: select some text")
    return {"type": "text", "cellId": cell_id, "start": start, "end": end}


def person(user: dict[str, Any]) -> dict[str, str]:
    return {"id": str(user["username"]), "name": str(user.get("display_name") or user["username"])}


def new_comment(author: dict[str, str], body: str) -> dict[str, Any]:
    return {
        "id": new_id(),
        "author": author,
        "body": body,
        "createdAt": now(),
        "editedAt": None,
        "deleted": False,
    }


def new_thread(target: dict[str, Any], author: dict[str, str], body: str) -> dict[str, Any]:
    first = new_comment(author, body)
    return {
        "id": new_id(),
        "target": target,
        "anchor": "attached",
        "status": "open",
        "resolvedBy": None,
        "resolvedAt": None,
        "createdAt": first["createdAt"],
        "author": author,
        "comments": [first],
    }


def valid_stored_thread(thread: Any) -> bool:
    """Is ``thread`` (read from a notebook file) well-formed enough to keep?"""
    if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
        return False
    target = thread.get("target")
    if not isinstance(target, dict) or target.get("type") not in TARGET_TYPES:
        return False
    comments = thread.get("comments")
    return isinstance(comments, list) and all(isinstance(c, dict) for c in comments)


def involves(thread: dict[str, Any], user_id: str) -> bool:
    """Did ``user_id`` start the thread or write in it?"""
    if thread.get("author", {}).get("id") == user_id:
        return True
    return any(c.get("author", {}).get("id") == user_id for c in thread.get("comments", []))
