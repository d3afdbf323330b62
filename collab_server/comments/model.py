"""The shape of comment threads (DESIGN section 4) and the validation of what clients send.

A thread, as the API returns it and as ``metadata.collab.comments.threads`` stores it::

    {"id", "target": {"type", "cellId"?, "start"?, "end"?, "index"?, "exact"?, "prefix"?,
     "suffix"?}, "anchor": "attached"|"detached", "status": "open"|"resolved",
     "resolvedBy": person|null, "resolvedAt": ISO-8601|null, "createdAt", "author": person,
     "comments": [{"id", "author": person, "body", "createdAt", "editedAt", "deleted"}]}

    person = {"id": "alice", "name": "Alice Doe", "verified": true}   # written by this server
           | {"id": null, "name": "as written", "verified": false}    # imported from a file

The first comment of ``comments`` is the thread's opening comment. A thread is *imported*
when it was read from a notebook file without a valid signature of this server
(``signing``): every person in it is then unverified — it is nobody's, ``mine=1`` never
lists it, and only people with ``write`` may edit or delete its comments.

Every id is checked: thread and comment ids are UUIDs (a file's other ids are replaced,
a URL's answer 404), cell ids follow nbformat (``[A-Za-z0-9_-]{1,64}``). Errors are raised
as the server's domain errors (``core.errors``: :class:`Invalid`, :class:`NotFound`, …) with a
message for a person; the REST layer maps them to HTTP statuses.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from ..core.errors import Invalid, NotFound
from ..core.time import now_iso

SCHEMA_VERSION = 1
MAX_BODY = 10_000  # characters of Markdown per comment
MAX_NAME = 200  # characters of an imported author's name
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# nbformat 4.5's cell id pattern.
_CELL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SURROGATE = re.compile("[\ud800-\udfff]")
TARGET_TYPES = ("notebook", "cell", "text", "output")
STATUSES = ("open", "resolved")


def now() -> str:
    """Comments' time stamps: ISO-8601 UTC with milliseconds (``core.time``)."""
    return now_iso("milliseconds")


def new_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: Any) -> bool:
    """A UUID in its canonical lower-case form (what this server hands out)."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def is_cell_id(value: Any) -> bool:
    return isinstance(value, str) and _CELL_ID.fullmatch(value) is not None


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (which UTF-8 cannot hold) replaced by U+FFFD."""
    if text.isascii():
        return text
    # A Python string holds a surrogate code point only when it is unpaired.
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def clean_strings(value: Any) -> tuple[Any, bool]:
    """``value`` (parsed JSON) with every string :func:`clean_text`-ed; and whether any
    string changed."""
    if isinstance(value, str):
        cleaned = clean_text(value)
        return cleaned, cleaned is not value
    if isinstance(value, list):
        items = [clean_strings(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    if isinstance(value, dict):
        pairs = [(clean_strings(k), clean_strings(v)) for k, v in value.items()]
        changed = any(kc or vc for (_, kc), (_, vc) in pairs)
        return {k: v for (k, _), (v, _) in pairs}, changed
    return value, False


def body_of(payload: dict[str, Any]) -> str:
    body = payload.get("body")
    if not isinstance(body, str):
        raise Invalid('"body" must be a string of Markdown')
    if not body.strip():
        raise Invalid("A comment cannot be empty")
    if len(body) > MAX_BODY:
        raise Invalid(f"A comment is at most {MAX_BODY} characters (this one is {len(body)})")
    return body


def _integer(target: dict[str, Any], name: str) -> int:
    value = target.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f'target "{name}" must be an integer')
    return value


def target_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The target a client asked for, checked for shape (not yet against the notebook)."""
    target = payload.get("target")
    if not isinstance(target, dict):
        raise Invalid('"target" must be an object such as {"type": "notebook"}')
    kind = target.get("type")
    if kind not in TARGET_TYPES:
        raise Invalid(f'target "type" must be one of {", ".join(TARGET_TYPES)}')
    if kind == "notebook":
        return {"type": "notebook"}
    cell_id = target.get("cellId")
    if not isinstance(cell_id, str) or not cell_id:
        raise Invalid(f'a {kind} target needs "cellId" (a string)')
    if not is_cell_id(cell_id):
        raise NotFound("No cell with that id in this notebook")
    if kind == "cell":
        return {"type": "cell", "cellId": cell_id}
    if kind == "output":
        index = _integer(target, "index")
        if index < 0:
            raise Invalid('target "index" must be 0 or more')
        return {"type": "output", "cellId": cell_id, "index": index}
    start, end = _integer(target, "start"), _integer(target, "end")
    if start < 0 or end < 0:
        raise Invalid("A range cannot start or end before the text (negative offset)")
    if start > end:
        raise Invalid(f"A range must start before it ends (start {start} > end {end})")
    if start == end:
        raise Invalid("A text range cannot be empty: select some text")
    return {"type": "text", "cellId": cell_id, "start": start, "end": end}


def person(user: dict[str, Any]) -> dict[str, Any]:
    """A person this server vouches for (the signed-in caller)."""
    return {
        "id": str(user["username"]),
        "name": str(user.get("display_name") or user["username"]),
        "verified": True,
    }


def is_verified(who: Any) -> bool:
    """Is ``who`` a person this server vouches for? (Threads stored before verification
    existed carry no flag: they were written through the API, or seeded from a file.)"""
    return (
        isinstance(who, dict) and isinstance(who.get("id"), str) and who.get("verified", True)
    ) is True


def unverified(who: Any) -> dict[str, Any]:
    """An imported person: the name as written (for display), no identity."""
    name: Any = who.get("name") if isinstance(who, dict) else None
    if not isinstance(name, str) or not name.strip():
        name = who.get("id") if isinstance(who, dict) else None
    if not isinstance(name, str) or not name.strip():
        name = "Unknown"
    return {"id": None, "name": clean_text(name)[:MAX_NAME], "verified": False}


def people(thread: dict[str, Any]) -> list[Any]:
    """Every person object of a thread (author, resolver, comment authors)."""
    found = [thread.get("author"), *(c.get("author") for c in thread.get("comments", []))]
    if thread.get("resolvedBy") is not None:
        found.append(thread["resolvedBy"])
    return found


def genuine(thread: dict[str, Any]) -> bool:
    """Was every part of this thread written through this server's API?"""
    return all(is_verified(p) for p in people(thread))


def participants(thread: dict[str, Any]) -> list[str]:
    """The verified ids of who started the thread or wrote in it."""
    found = [thread.get("author"), *(c.get("author") for c in thread.get("comments", []))]
    return sorted({p["id"] for p in found if is_verified(p)})


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


def _string(value: Any, default: str | None) -> str | None:
    return clean_text(value) if isinstance(value, str) else default


def _imported_target(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or raw.get("type") not in TARGET_TYPES:
        return None
    kind = raw["type"]
    if kind == "notebook":
        return {"type": "notebook"}
    if not is_cell_id(raw.get("cellId")):
        return None  # not a cell of any valid notebook; never echoed into a page
    target: dict[str, Any] = {"type": kind, "cellId": raw["cellId"]}
    if kind == "output":
        index = raw.get("index")
        target["index"] = index if isinstance(index, int) and index >= 0 else 0
    elif kind == "text":
        for name in ("start", "end"):
            value = raw.get(name)
            target[name] = value if isinstance(value, int) and value >= 0 else 0
        for name in ("exact", "prefix", "suffix"):
            target[name] = _string(raw.get(name), "")
    return target


def import_thread(raw: Any, verified: bool) -> tuple[dict[str, Any] | None, list[str]]:
    """A thread read from a notebook file, rebuilt field by field into the API shape.

    ``verified``: its signature is this server's (then its persons keep their ids).
    Returns the thread (None if it cannot be one) and notes on what was repaired (for the
    log): ids that are not UUIDs get fresh ones, invalid Unicode becomes U+FFFD."""
    notes: list[str] = []
    if not isinstance(raw, dict):
        return None, ["not an object"]
    target = _imported_target(raw.get("target"))
    if target is None:
        return None, ["no valid target"]
    raw_comments = raw.get("comments")
    if not isinstance(raw_comments, list) or not raw_comments:
        return None, ["no comments"]

    def who(value: Any) -> dict[str, Any]:
        if verified and is_verified(value):
            return {"id": value["id"], "name": _string(value.get("name"), value["id"]),
                    "verified": True}  # fmt: skip
        return unverified(value)

    def fresh_id(value: Any, what: str) -> str:
        if is_uuid(value):
            return str(value)
        notes.append(f"{what} id {str(value)[:60]!r} is not a UUID: replaced")
        return new_id()

    comments = []
    for c in raw_comments:
        if not isinstance(c, dict):
            continue
        body = _string(c.get("body"), "") or ""
        comments.append(
            {
                "id": fresh_id(c.get("id"), "comment"),
                "author": who(c.get("author")),
                "body": body[:MAX_BODY],
                "createdAt": _string(c.get("createdAt"), now()),
                "editedAt": _string(c.get("editedAt"), None),
                "deleted": c.get("deleted") is True,
            }
        )
    if not comments:
        return None, ["no comments"]
    resolved = raw.get("status") == "resolved"
    thread = {
        "id": fresh_id(raw.get("id"), "thread"),
        "target": target,
        "anchor": "detached" if raw.get("anchor") == "detached" else "attached",
        "status": "resolved" if resolved else "open",
        "resolvedBy": who(raw.get("resolvedBy")) if resolved and raw.get("resolvedBy") else None,
        "resolvedAt": _string(raw.get("resolvedAt"), None) if resolved else None,
        "createdAt": _string(raw.get("createdAt"), str(comments[0]["createdAt"])),
        "author": who(raw.get("author")),
        "comments": comments,
    }
    return thread, notes


def involves(thread: dict[str, Any], user_id: str) -> bool:
    """Did ``user_id`` start the thread or write in it (as a verified person)?"""
    return user_id in participants(thread)
