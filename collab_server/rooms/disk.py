"""Reading and writing a room's file through jupyter_server's contents manager.

Going through the contents manager (not ``open()``) keeps every rule the operator configured
for files — root directory, hidden files, pre-save hooks, checkpoints — and makes the file
hash the same one the contents API reports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from jupyter_server.utils import ensure_async
from tornado import web

from .document import DocumentKind
from .errors import FileLoadError, FileMissing, FileUnreadable, InvalidFile

__all__ = ["DiskFile", "FileLoadError", "LoadedFile"]


@dataclass
class LoadedFile:
    content: Any
    hash: str | None
    modified: Any  # the contents manager's last_modified (a datetime)


class DiskFile:
    """The file behind one room. ``path`` follows renames (the room manager updates it)."""

    def __init__(self, contents_manager: Any, path: str, kind: DocumentKind) -> None:
        self.contents_manager = contents_manager
        self.path = path
        self.kind = kind

    async def load(self) -> LoadedFile:
        """The file's content (raises a :class:`~.errors.FileLoadError` subclass)."""
        try:
            model = await ensure_async(
                self.contents_manager.get(
                    self.path,
                    content=True,
                    type=self.kind.type,
                    format=self.kind.format if not self.kind.is_notebook else None,
                    require_hash=True,
                )
            )
        except web.HTTPError as e:
            error = {404: FileMissing, 400: InvalidFile}.get(e.status_code, FileUnreadable)
            raise error(self.describe(e)) from e
        except Exception as e:  # a broken notebook JSON, a decoding error, …
            raise InvalidFile(self.describe(e)) from e
        content = model["content"]
        if self.kind.is_notebook:
            content = _plain(content)
        return LoadedFile(content, model.get("hash"), model.get("last_modified"))

    def describe(self, error: BaseException) -> str:
        """A short account of ``error`` for logs and users: the root cause, with the server's
        directories removed (never show an absolute path), at most 200 characters."""
        cause: BaseException = error
        while cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, web.HTTPError):
            text = cause.log_message or cause.reason or "cannot read file"
        else:
            text = f"{type(cause).__name__}: {cause}"
        root = str(getattr(self.contents_manager, "root_dir", "") or "")
        if root:
            text = text.replace(os.path.join(root, ""), "").replace(root, "")
        text = " ".join(text.split())
        return text if len(text) <= 200 else text[:197] + "…"

    async def modified(self) -> Any | None:
        """The file's last-modified time, or None if it is gone."""
        try:
            model = await ensure_async(self.contents_manager.get(self.path, content=False))
        except web.HTTPError:
            return None
        return model.get("last_modified")

    async def save(self, content: Any) -> tuple[str | None, Any]:
        """Write ``content``; return the new hash and last-modified time."""
        model: dict[str, Any] = {"type": self.kind.type, "content": content}
        model["format"] = "json" if self.kind.is_notebook else self.kind.format
        await ensure_async(self.contents_manager.save(model, self.path))
        saved = await ensure_async(
            self.contents_manager.get(self.path, content=False, require_hash=True)
        )
        return saved.get("hash"), saved.get("last_modified")


def _plain(value: Any) -> Any:
    """NotebookNode → plain dicts and lists (comparisons and JSON stay predictable)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
