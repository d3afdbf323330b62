"""The comments REST API (DESIGN section 4). Thin: checks rights, parses, calls the service.

* ``GET    /api/collab/comments?status=open&mine=1`` — threads across every notebook you may read
* ``GET    /api/collab/comments/{path}?status=open|resolved|all``
* ``POST   /api/collab/comments/{path}`` ``{"target", "body"}`` → 201 thread
* ``POST   /api/collab/comments/{path}/{threadId}/replies`` ``{"body"}`` → 201 comment
* ``PATCH  /api/collab/comments/{path}/{threadId}`` ``{"status": "resolved"|"open"}``
* ``PATCH  /api/collab/comments/{path}/{threadId}/replies/{commentId}`` ``{"body"}`` (author)
* ``DELETE /api/collab/comments/{path}/{threadId}/replies/{commentId}`` (author; a tombstone)
* ``DELETE /api/collab/comments/{path}/{threadId}`` (editors, and the thread's author)

Rights are asked on ``comments:{path}``: ``read`` sees, ``comment`` writes, ``write`` deletes any
thread (and edits or deletes imported comments, whose author is unverified). They are checked
before the notebook is looked up, so a file you may not read answers 403 whether or not it
exists. Thread and comment ids in URLs are UUIDs; anything else answers 404. A database held
by another process past ``db.write``'s bound answers 503. Errors are the domain errors of
``core.errors``, raised by the model and the service and answered by
:class:`~collab_server.core.http.CollabHandlerMixin`; nothing here translates them.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async
from tornado import web

from ..auth.jupyter import is_allowed
from ..core.errors import Forbidden, Invalid, NotFound, Unauthenticated, from_close_code
from ..core.http import CollabHandlerMixin, json_object
from ..core.paths import normalize
from ..rooms.disk import FileLoadError
from . import model
from .service import CommentsService, NotebookComments

SERVICE_SETTING = "collab_comments"


class CommentsHandler(CollabHandlerMixin, APIHandler):
    """Every ``/api/collab/comments/…`` route (the path is split here: it contains slashes)."""

    @property
    def service(self) -> CommentsService:
        return self.settings[SERVICE_SETTING]

    def _me(self) -> dict[str, str]:
        return model.person(
            {"username": self.current_user.username, "display_name": self.current_user.display_name}
        )

    async def _authorize(self, path: str, action: str) -> str:
        if self.current_user is None:
            raise Unauthenticated("Sign in first")
        api_path = normalize(path)
        if api_path is None or not api_path:
            raise Invalid("Name a notebook: /api/collab/comments/{path}")
        if not await is_allowed(self, action, f"comments:{api_path}"):
            verb = {"read": "see", "comment": "comment on", "write": "delete threads of"}[action]
            raise Forbidden(f"You may not {verb} this notebook's comments")
        return api_path

    async def _run(self, path: str, action: str, work: Any, status: int = 200) -> None:
        """Authorize, open the notebook's comments, run ``work(comments)``, answer."""
        api_path = await self._authorize(path, action)
        if not api_path.endswith(".ipynb"):
            raise Invalid(f"{api_path!r} is not a notebook (.ipynb)")
        if not await ensure_async(self.contents_manager.file_exists(api_path)):
            raise NotFound(f"No notebook {api_path!r}")
        try:
            async with self.service.session(api_path) as comments:
                result = await work(comments)
        except FileLoadError as e:
            # The rooms layer still reports load failures by close code: map it back once,
            # through the one table (until FileLoadError is a CollabError itself).
            raise from_close_code(e.close_code, e.message) from e
        self.set_status(status)
        if result is None:
            self.finish()
        else:
            self.finish(result)

    # -- routes -----------------------------------------------------------------------------------

    async def get(self, rest: str = "") -> None:
        if not rest:
            await self._overview()
            return
        status = self.get_query_argument("status", "all")
        if status not in ("open", "resolved", "all"):
            raise Invalid('"status" is open, resolved or all')

        async def work(comments: NotebookComments) -> dict[str, Any]:
            return {"threads": await comments.threads(status)}

        await self._run(rest, "read", work)

    async def _may_write(self, path: str) -> bool:
        return await is_allowed(self, "write", f"comments:{normalize(path) or ''}")

    async def post(self, rest: str = "") -> None:
        body = json_object(self)
        parts = rest.split("/")
        if len(parts) >= 3 and parts[-1] == "replies":
            path, thread_id = "/".join(parts[:-2]), _id(parts[-2])
            text = model.body_of(body)

            async def reply(comments: NotebookComments) -> dict[str, Any]:
                return await comments.reply(thread_id, self._me(), text)

            await self._run(path, "comment", reply, 201)
            return
        target = model.target_of(body)
        text = model.body_of(body)

        async def create(comments: NotebookComments) -> dict[str, Any]:
            return await comments.create(self._me(), target, text)

        await self._run(rest, "comment", create, 201)

    async def patch(self, rest: str = "") -> None:
        body = json_object(self)
        parts = rest.split("/")
        if len(parts) >= 4 and parts[-2] == "replies":
            path, thread_id, comment_id = "/".join(parts[:-3]), _id(parts[-3]), _id(parts[-1])
            text = model.body_of(body)

            async def edit(comments: NotebookComments) -> dict[str, Any]:
                may_write = await self._may_write(path)
                return await comments.edit(thread_id, comment_id, self._me()["id"], text,
                                           may_write)  # fmt: skip

            await self._run(path, "comment", edit)
            return
        path, thread_id = _split_thread(parts)
        status = body.get("status")
        if status not in model.STATUSES:
            raise Invalid('"status" must be "resolved" or "open"')

        async def set_status(comments: NotebookComments) -> dict[str, Any]:
            return await comments.set_status(thread_id, status, self._me())

        await self._run(path, "comment", set_status)

    async def delete(self, rest: str = "") -> None:
        parts = rest.split("/")
        if len(parts) >= 4 and parts[-2] == "replies":
            path, thread_id, comment_id = "/".join(parts[:-3]), _id(parts[-3]), _id(parts[-1])

            async def remove_comment(comments: NotebookComments) -> dict[str, Any]:
                may_write = await self._may_write(path)
                return await comments.delete_comment(thread_id, comment_id, self._me()["id"],
                                                     may_write)  # fmt: skip

            await self._run(path, "comment", remove_comment)
            return
        path, thread_id = _split_thread(parts)

        async def remove_thread(comments: NotebookComments) -> None:
            may_write = await self._may_write(path)
            await comments.delete_thread(thread_id, self._me()["id"], may_write)

        await self._run(path, "comment", remove_thread, 204)

    async def _overview(self) -> None:
        """Threads across notebooks (``status``, ``mine=1``), only where the caller may read."""
        if self.current_user is None:
            raise Unauthenticated("Sign in first")
        status = self.get_query_argument("status", "open")
        if status not in ("open", "resolved", "all"):
            raise Invalid('"status" is open, resolved or all')
        mine = self.get_query_argument("mine", "0") in ("1", "true", "yes")
        found = self.service.indexed(
            None if status == "all" else status, self._me()["id"] if mine else None
        )
        readable: dict[str, bool] = {}
        threads = []
        for path, thread in found:
            if path not in readable:
                readable[path] = await is_allowed(self, "read", f"comments:{path}")
            if readable[path]:
                threads.append({"path": path, **thread})
        self.finish({"threads": threads})


def _split_thread(parts: list[str]) -> tuple[str, str]:
    if len(parts) < 2 or not parts[-1]:
        raise Invalid("Name a thread: /api/collab/comments/{path}/{threadId}")
    return "/".join(parts[:-1]), _id(parts[-1])


def _id(value: str) -> str:
    """A thread or comment id from the URL. Anything but a UUID names nothing here; it is
    still looked up after the rights check (the service answers 404), so a notebook one may
    not read answers 403 whatever the id."""
    return value if model.is_uuid(value) else ""


def comments_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    return [(r"/api/collab/comments/?(.*)", CommentsHandler)]
