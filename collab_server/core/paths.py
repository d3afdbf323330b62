"""API paths: the one normaliser and the one "a folder moved" rule.

An API path is POSIX, relative to the root, with no leading or trailing slash ("" is the
root). File ids, grants, rooms, versions and the search index all key things by API path, and
all follow a rename with :func:`moved`, so they can never disagree about what a move covers.
"""

from __future__ import annotations


def normalize(path: str) -> str | None:
    """``path`` as resources name it, or None if it tries to leave the root (``..``)."""
    path = path.replace("\\", "/").strip("/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def covers(folder: str, path: str) -> bool:
    """Is ``path`` ``folder`` itself or below it? (The root covers everything.)"""
    return folder == "" or path == folder or path.startswith(folder + "/")


def moved(path: str, old: str, new: str) -> str | None:
    """Where ``path`` is after ``old`` was renamed to ``new`` (a file or a whole folder), or
    None if the move does not concern it. ``a/b`` is not below ``a/bc``: only whole segments
    match."""
    if path == old:
        return new
    if old and path.startswith(old + "/"):
        return new + path[len(old) :]
    return None
