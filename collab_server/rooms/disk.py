"""Reading and writing a room's file through jupyter_server's contents manager.

Going through the contents manager (not ``open()``) keeps every rule the operator configured
for files — root directory, hidden files, pre-save hooks, checkpoints — and makes the file
hash the same one the contents API reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jupyter_server.utils import ensure_async
from tornado import web

from .document import DocumentKind


class FileLoadError(Exception):
    """The file could not be read as the room's kind; ``close_code`` says why (44xx/4500)."""

    def __init__(self, close_code: int, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.message = message


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
            code = {404: 4404, 400: 4400}.get(e.status_code, 4500)
            raise FileLoadError(code, e.log_message or e.reason or "cannot read file") from e
        except Exception as e:  # a broken notebook JSON, a decoding error, …
            raise FileLoadError(4400, f"{type(e).__name__}: {e}") from e
        content = model["content"]
        if self.kind.is_notebook:
            content = _plain(content)
        return LoadedFile(content, model.get("hash"), model.get("last_modified"))

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
