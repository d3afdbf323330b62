"""jupyter_server's contents API, with the checks a multi-user server needs on top.

jupyter_server authorizes a contents request on the path in its URL only. With several
people on one server that leaves three holes, closed here:

* a folder listing would name every file in it, readable or not: children the caller may
  not read are left out;
* ``PATCH {"path": new}`` (rename) would move a file anywhere: the destination needs
  ``write`` too;
* ``POST {"copy_from": other}`` would copy a file the caller cannot read into their
  folder: the source needs ``read``.

Registered at the same URL as jupyter_server's handler; extension routes take precedence.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.services.contents.handlers import ContentsHandler, default_handlers
from tornado import web

from ..auth.jupyter import is_allowed, normalize_api_path


class GuardedContentsHandler(ContentsHandler):
    """``/api/contents/{path}`` with listings filtered and renames/copies checked both ends."""

    _held_model: tuple[dict[str, Any], bool] | None = None
    _holding = False

    def _finish_model(self, model: dict[str, Any], location: bool = True) -> None:
        if self._holding:  # filtered (asynchronously) by get() before it is sent
            self._held_model = (model, location)
            return
        super()._finish_model(model, location)

    async def get(self, path: str = "") -> None:
        self._holding = True
        try:
            await super().get(path)  # type: ignore[misc]
        finally:
            self._holding = False
        if self._held_model is None:
            return  # an error was already sent
        model, location = self._held_model
        if model.get("type") == "directory" and isinstance(model.get("content"), list):
            model["content"] = [
                child
                for child in model["content"]
                if await is_allowed(self, "read", f"contents:{child.get('path', '')}")
            ]
        super()._finish_model(model, location)

    async def patch(self, path: str = "") -> None:
        destination = self._body_field("path")
        if destination is not None:
            await self._require("write", destination, "You may not move files there")
        await super().patch(path)  # type: ignore[misc]

    async def post(self, path: str = "") -> None:
        source = self._body_field("copy_from")
        if source is not None:
            await self._require("read", source, "You may not copy that file")
        await super().post(path)  # type: ignore[misc]

    def _body_field(self, name: str) -> str | None:
        try:
            body = json.loads(self.request.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # jupyter_server answers 400 for the malformed body
        value = body.get(name) if isinstance(body, dict) else None
        return value if isinstance(value, str) and value else None

    async def _require(self, action: str, raw_path: str, refusal: str) -> None:
        path = normalize_api_path(raw_path)
        if path is None:
            raise web.HTTPError(400, "A path may not contain '..'")
        if not await is_allowed(self, action, f"contents:{path}"):
            raise web.HTTPError(403, refusal)


def contents_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    # jupyter_server's own list, in its order (the checkpoint routes must come before the
    # catch-all contents route), with the contents handler swapped for ours.
    return [
        (pattern, GuardedContentsHandler if handler is ContentsHandler else handler)
        for pattern, handler in default_handlers
    ]
