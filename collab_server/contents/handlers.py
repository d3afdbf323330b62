"""jupyter_server's contents API, with the checks a multi-user server needs on top.

jupyter_server authorizes a contents request on the path in its URL only. With several
people on one server that leaves three holes, closed here:

* a folder listing would name every file in it, readable or not: children the caller may
  not read are left out;
* ``PATCH {"path": new}`` (rename) would move a file anywhere: the destination needs
  ``write`` too;
* ``POST {"copy_from": other}`` would copy a file the caller cannot read into their
  folder: the source needs ``read``.

Bodies of ``PUT``/``POST``/``PATCH`` are checked by ``core.http.parse_json`` before jupyter_server
sees them (invalid Unicode, absurd nesting, fields of the wrong type: 400 with a message, not
a 500 or a notebook that can never be saved again), and error messages never carry the
server's absolute paths (see ``manager.api_paths_in_errors``).

Registered at the same URL as jupyter_server's handler; extension routes take precedence.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.services.contents.handlers import ContentsHandler, default_handlers
from tornado import web

from ..auth.jupyter import is_allowed
from ..core.errors import Forbidden, Invalid
from ..core.http import CollabHandlerMixin, parse_json
from ..core.paths import normalize
from .manager import hide_root

# Notebook outputs (widget state, JSON outputs) nest deeper than our own API bodies.
MAX_CONTENTS_DEPTH = 512


class GuardedContentsHandler(CollabHandlerMixin, ContentsHandler):
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

    async def put(self, path: str = "") -> None:
        self._body()
        await super().put(path)  # type: ignore[misc]

    def _body(self) -> Any:
        """The checked JSON body (None when there is none), or a 400."""
        if not (self.request.body or b"").strip():
            return None
        return parse_json(self.request.body, "The request body", MAX_CONTENTS_DEPTH)

    def _body_field(self, name: str) -> str | None:
        body = self._body()
        if body is not None and not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object")
        value = body.get(name) if body else None
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise Invalid(f'"{name}" must be a path (a string)')
        return value

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Errors raised below the contents manager still reach here: say which API path,
        # never where the root is on the server.
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], web.HTTPError):
            hidden = hide_root(exc_info[1], self.contents_manager.root_dir)
            kwargs["exc_info"] = (type(hidden), hidden, exc_info[2])
        super().write_error(status_code, **kwargs)

    async def _require(self, action: str, raw_path: str, refusal: str) -> None:
        path = normalize(raw_path)
        if path is None:
            raise Invalid("A path may not contain '..'")
        if not await is_allowed(self, action, f"contents:{path}"):
            raise Forbidden(refusal)


def contents_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    # jupyter_server's own list, in its order (the checkpoint routes must come before the
    # catch-all contents route), with the contents handler swapped for ours.
    return [
        (pattern, GuardedContentsHandler if handler is ContentsHandler else handler)
        for pattern, handler in default_handlers
    ]
