"""The kernels' REST routes; thin: check rights, parse, call the service.

Jupyter's own routes, taken over so notebook kernels go through the same code:

* ``POST /api/kernels/{kernel_id}/execute`` — run cells of the kernel's notebook, reading the
  code from the shared document (the three body shapes of :mod:`.requests`);
* ``POST /api/kernels/{kernel_id}/interrupt|restart`` — a notebook kernel's queue is drained
  (and, on restart, its running cell reset) too;
* ``POST /api/kernels`` — per-person and per-server limits, the provider's kernel environment;
* ``POST /api/sessions`` for a notebook — the notebook's kernel, started if it has none.

Ours, by notebook path:

* ``GET  /api/collab/kernels/{path}`` — the transient kernel state (``read``);
* ``POST /api/collab/kernels/{path}`` ``{"name"?}`` — start or get the notebook's kernel;
* ``POST /api/collab/kernels/{path}/interrupt|restart``, ``…/input`` ``{"value"}``;
* ``GET  /api/collab/kernels/{path}/cells/{cell_id}/stream`` — a cell's full stream text;
* ``GET  /api/collab/executions?path=…&limit=…&before=…`` — the execution log, newest first.

Running code needs ``execute`` on ``contents:{path}``; reading state and logs needs ``read``.
Rights are checked before the notebook is looked up, so a file you may not read answers 403
whether or not it exists.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.services.kernels.handlers import KernelActionHandler, MainKernelHandler
from jupyter_server.services.sessions.handlers import SessionHandler, SessionRootHandler
from jupyter_server.utils import ensure_async, url_escape, url_path_join
from tornado import web

from ..auth.jupyter import is_allowed, normalize_api_path, token_from_request
from ..core.http import CollabHandlerMixin, json_object
from ..rooms.disk import FileLoadError
from ..rooms.manager import RoomAddress, RoomNotFound
from . import cells
from .log import ExecutionRecord
from .requests import RequestError, parse_execute
from .service import Caller, KernelProblem, KernelService, NotebookKernel

SERVICE_SETTING = "collab_kernels"

# jupyter_server's kernel id pattern (a UUID), as its own routes match it.
KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"


def _record(record: ExecutionRecord) -> dict[str, Any]:
    data = asdict(record)
    data["stream_kept"] = data.pop("spool_key") is not None
    return data


class _KernelsMixin(CollabHandlerMixin):
    """What every kernels handler shares (mixed into jupyter_server handler classes); our
    domain errors become their HTTP status with ``{"message"}``."""

    settings: dict[str, Any]
    current_user: Any
    contents_manager: Any

    @property
    def service(self) -> KernelService:
        return self.settings[SERVICE_SETTING]

    def caller(self) -> Caller:
        user = self.current_user
        if user is None:
            raise web.HTTPError(401, "Sign in first")
        return Caller(user.username, user.display_name, token_from_request(self))  # type: ignore[arg-type]

    async def require(self, action: str, path: str) -> str:
        """The normalized notebook path, once the caller may ``action`` on it."""
        if self.current_user is None:
            raise web.HTTPError(401, "Sign in first")
        api_path = normalize_api_path(path)
        if api_path is None or not api_path:
            raise web.HTTPError(400, "Name a notebook: /api/collab/kernels/{path}")
        if not await is_allowed(self, action, f"contents:{api_path}"):  # type: ignore[arg-type]
            verb = "run code in" if action == "execute" else "open"
            raise web.HTTPError(403, f"You may not {verb} this notebook")
        if not api_path.endswith(".ipynb"):
            raise web.HTTPError(400, f"{api_path!r} is not a notebook (.ipynb)")
        if not await ensure_async(self.contents_manager.file_exists(api_path)):
            raise web.HTTPError(404, f"No notebook {api_path!r}")
        return api_path

    def notebook_kernel(self, api_path: str) -> NotebookKernel:
        file_id = self.service.file_ids.get_id(api_path)
        nk = self.service.notebooks.get(file_id) if file_id is not None else None
        if nk is None:
            raise web.HTTPError(404, "This notebook has no kernel; start one first")
        return nk


def _problem(e: KernelProblem) -> web.HTTPError:
    return web.HTTPError(e.status, e.message)


class ExecuteHandler(_KernelsMixin, APIHandler):
    """``POST /api/kernels/{kernel_id}/execute``."""

    async def post(self, kernel_id: str) -> None:
        caller = self.caller()
        try:
            request = parse_execute(json_object(self))
        except RequestError as e:
            raise web.HTTPError(400, str(e)) from e
        try:
            address = RoomAddress.parse(request.document_id)
        except RoomNotFound as e:
            raise web.HTTPError(400, f"document_id: {e}") from e
        if address.kind is None or not address.kind.is_notebook or address.file_id is None:
            raise web.HTTPError(400, "document_id must name a notebook (json:notebook:{fileId})")
        path = self.service.path_of(address.file_id)
        if path is None:
            raise web.HTTPError(404, "No such document")
        if not await is_allowed(self, "execute", f"contents:{path}"):
            raise web.HTTPError(403, "You may not run code in this notebook")
        service = self.service
        nk = service.by_kernel.get(kernel_id)
        try:
            if nk is None:
                if kernel_id not in service.kernel_manager:
                    raise web.HTTPError(404, "No such kernel")
                nk = await service.adopt(kernel_id, address.file_id, caller)
            if nk.file_id != address.file_id:
                raise web.HTTPError(409, "This kernel belongs to another notebook")
            futures = await service.execute(nk, request, caller)
        except KernelProblem as e:
            raise _problem(e) from e
        except FileLoadError as e:
            raise web.HTTPError(404, e.message) from e
        except FileNotFoundError as e:
            raise web.HTTPError(404, "The notebook no longer exists") from e
        # Answer when the cells have run (JupyterLab takes ``response.ok`` as the cell's
        # success); waiting here holds no lock and blocks no other request.
        records = await asyncio.gather(*futures)
        ok = all(record.status == "ok" for record in records)
        self.set_status(200 if ok else 422)
        if request.is_batch:
            self.finish({"status": "ok" if ok else "error", "cells": [_record(r) for r in records]})
            return
        record = records[0]
        body = _record(record)
        if not ok:
            body["message"] = (
                f"The cell raised {record.ename}"
                if record.status == "error"
                else "The cell did not run (interrupted, restarted, or an earlier cell failed)"
            )
        self.finish(body)


class CollabKernelActionHandler(_KernelsMixin, KernelActionHandler):
    """jupyter_server's interrupt/restart; a notebook kernel's queue goes with it."""

    @web.authenticated
    @authorized
    async def post(self, kernel_id: str, action: str) -> None:
        nk = self.service.by_kernel.get(kernel_id)
        if nk is None:
            # Not a notebook's kernel: jupyter_server's own handling.
            pending = KernelActionHandler.post(self, kernel_id, action)
            if pending is not None:
                await pending
            return
        if action == "interrupt":
            await self.service.interrupt(nk)
            self.set_status(204)
            self.finish()
            return
        try:
            await self.service.restart(nk)
        except Exception as e:
            raise web.HTTPError(500, "The kernel could not be restarted") from e
        model = await ensure_async(self.kernel_manager.kernel_model(kernel_id))
        self.finish(json.dumps(model, default=json_default))


class CollabMainKernelHandler(_KernelsMixin, MainKernelHandler):
    """jupyter_server's ``POST /api/kernels``, with limits and the provider's environment."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        km = self.kernel_manager
        model = self.get_json_body() or {}
        if not isinstance(model, dict):
            raise web.HTTPError(400, "The request body must be a JSON object")
        name = model.get("name") or km.default_kernel_name
        try:
            kernel_id = await self.service.start_plain_kernel(
                self.caller(), name, path=model.get("path")
            )
        except KernelProblem as e:
            raise _problem(e) from e
        except NoSuchKernel as e:
            raise web.HTTPError(400, f"No kernel named {name!r}") from e
        model = await ensure_async(km.kernel_model(kernel_id))
        self.set_header(
            "Location", url_path_join(self.base_url, "api", "kernels", url_escape(kernel_id))
        )
        self.set_status(201)
        self.finish(json.dumps(model, default=json_default))


async def _notebook_path(handler: Any, path: Any) -> str | None:
    """The API path when ``path`` names an existing notebook, else ``None``."""
    if not isinstance(path, str) or not path.endswith(".ipynb"):
        return None
    api_path = normalize_api_path(path)
    if api_path is None or not await ensure_async(handler.contents_manager.file_exists(api_path)):
        return None
    return api_path


class CollabSessionRootHandler(_KernelsMixin, SessionRootHandler):
    """jupyter_server's ``/api/sessions``: a notebook gets its one shared kernel, every new
    kernel is started by us (limits, the provider's environment, its owner), and the list
    shows only sessions of files the caller may read (a session names its notebook)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        sessions: list[dict[str, Any]] = await ensure_async(self.session_manager.list_sessions())
        visible = []
        for session in sessions:
            path = normalize_api_path(str(session.get("path") or ""))
            if path is not None and await is_allowed(self, "read", f"contents:{path}"):
                visible.append(session)
        self.finish(json.dumps(visible, default=json_default))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        model = self.get_json_body()
        kernel = model.get("kernel") if isinstance(model, dict) else None
        if isinstance(model, dict) and isinstance(kernel, dict) and not kernel.get("id"):
            path = model.get("path")
            notebook = await _notebook_path(self, path) if model.get("type") == "notebook" else None
            name = kernel.get("name")
            try:
                if notebook is not None:
                    if not await is_allowed(self, "execute", f"contents:{notebook}"):
                        raise web.HTTPError(403, "You may not run code in this notebook")
                    kernel_id = (
                        await self.service.ensure_kernel(notebook, name, self.caller())
                    ).kernel_id
                elif isinstance(path, str) and normalize_api_path(path) is not None:
                    # JupyterLab names a new session by a placeholder path and renames it
                    # to the notebook later (PATCH, below).
                    kernel_path = await ensure_async(
                        self.contents_manager.get_kernel_path(path=normalize_api_path(path))
                    )
                    kernel_id = await self.service.start_plain_kernel(
                        self.caller(),
                        name or self.kernel_manager.default_kernel_name,
                        path=kernel_path,
                    )
                else:
                    raise web.HTTPError(400, "Missing field in JSON data: path")
            except KernelProblem as e:
                raise _problem(e) from e
            except NoSuchKernel as e:
                raise web.HTTPError(400, f"No kernel named {name!r}") from e
            model["kernel"] = {"id": kernel_id}
            self.request.body = json.dumps(model).encode()
        pending = SessionRootHandler.post(self)
        if pending is not None:
            await pending


class CollabSessionHandler(_KernelsMixin, SessionHandler):
    """jupyter_server's ``PATCH /api/sessions/{id}``: a session that comes to name a notebook
    (JupyterLab renames its placeholder) gets the notebook's kernel, or gives it its own."""

    @web.authenticated
    @authorized
    async def patch(self, session_id: str) -> None:
        model = self.get_json_body()
        if not isinstance(model, dict):
            raise web.HTTPError(400, "No JSON data provided")
        before = await self.session_manager.get_session(session_id=session_id)
        if isinstance(model.get("notebook"), dict) and "path" in model["notebook"]:
            model["path"] = model["notebook"]["path"]
        notebook = await _notebook_path(self, model.get("path", before.get("path")))
        kernel = model.get("kernel")
        service = self.service
        if notebook is not None and (
            before.get("type") == "notebook" or model.get("type") == "notebook"
        ):
            if not await is_allowed(self, "execute", f"contents:{notebook}"):
                raise web.HTTPError(403, "You may not run code in this notebook")
            nk = service.notebooks.get(service.file_ids.index(notebook)[0])
            wanted = (
                kernel.get("name") if isinstance(kernel, dict) and not kernel.get("id") else None
            )
            if nk is not None and wanted not in (None, nk.kernel_name):
                await service.shutdown(nk)  # another kind of kernel for this notebook
                nk = None
            if nk is not None:
                # One kernel per notebook: the session takes it (jupyter_server shuts the
                # session's own kernel down).
                model["kernel"] = {"id": nk.kernel_id}
            elif wanted is not None:
                kernel_path = await ensure_async(
                    self.contents_manager.get_kernel_path(path=notebook)
                )
                try:
                    kernel_id = await service.start_plain_kernel(
                        self.caller(), wanted, path=kernel_path
                    )
                except KernelProblem as e:
                    raise _problem(e) from e
                model["kernel"] = {"id": kernel_id}
            self.request.body = json.dumps(model).encode()
        pending = SessionHandler.patch(self, session_id)
        if pending is not None:
            await pending
        if notebook is not None:
            after = await self.session_manager.get_session(session_id=session_id)
            session_kernel = (after.get("kernel") or {}).get("id")
            if session_kernel and session_kernel not in service.by_kernel:
                try:
                    await service.adopt(
                        str(session_kernel), service.file_ids.index(notebook)[0], self.caller()
                    )
                except KernelProblem:
                    self.log.info("Session %s keeps a kernel of its own", session_id)


class NotebookKernelHandler(_KernelsMixin, APIHandler):
    """``/api/collab/kernels/{path}``: the state; start or get the kernel."""

    async def get(self, path: str) -> None:
        api_path = await self.require("read", path)
        file_id, _ = self.service.file_ids.index(api_path)
        self.finish(self.service.state_message(file_id))

    async def post(self, path: str) -> None:
        api_path = await self.require("execute", path)
        body = json_object(self) if (self.request.body or b"").strip() else {}
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise web.HTTPError(400, '"name" must be a kernel name (a string)')
        known = self.service.notebooks.get(self.service.file_ids.index(api_path)[0])
        try:
            nk = await self.service.ensure_kernel(api_path, name, self.caller())
        except KernelProblem as e:
            raise _problem(e) from e
        except NoSuchKernel as e:
            raise web.HTTPError(400, f"No kernel named {name!r}") from e
        self.set_status(200 if known is nk else 201)
        self.finish(self.service.state_message(nk.file_id))


class NotebookKernelActionHandler(_KernelsMixin, APIHandler):
    """``POST /api/collab/kernels/{path}/interrupt|restart|input``."""

    async def post(self, path: str, action: str) -> None:
        api_path = await self.require("execute", path)
        nk = self.notebook_kernel(api_path)
        if action == "input":
            body = json_object(self)
            value = body.get("value")
            if not isinstance(value, str):
                raise web.HTTPError(400, '"value" must be a string')
            if not self.service.reply_input(nk, value):
                raise web.HTTPError(409, "No cell is waiting for input")
        elif action == "interrupt":
            await self.service.interrupt(nk)
        else:
            try:
                await self.service.restart(nk)
            except Exception as e:
                raise web.HTTPError(500, "The kernel could not be restarted") from e
        self.finish(self.service.state_message(nk.file_id))


class CellStreamHandler(_KernelsMixin, APIHandler):
    """``GET /api/collab/kernels/{path}/cells/{cell_id}/stream``: the full stream text of
    the cell's latest run (kept on disk when the document holds only its head and tail)."""

    async def get(self, path: str, cell_id: str) -> None:
        api_path = await self.require("read", path)
        file_id, _ = self.service.file_ids.index(api_path)
        text: bytes | None = None
        latest = self.service.execution_log.latest_for_cell(file_id, cell_id)
        if latest is not None and latest.get("spool_key"):
            text = self.service.spool.read(str(latest["spool_key"]))
        if text is None:
            room = self.service.room_of(file_id)
            try:
                await room.open()
            except FileLoadError as e:
                raise web.HTTPError(404, e.message) from e
            doc = room.doc
            cell = cells.find_cell(doc, cell_id) if doc is not None else None
            if cell is None:
                raise web.HTTPError(404, "The notebook has no such cell")
            text = cells.stream_text(cell).encode("utf-8")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{cell_id[:64]}.txt"')
        self.finish(text)


class ExecutionsHandler(_KernelsMixin, APIHandler):
    """``GET /api/collab/executions?path=…&limit=…&before=…``, newest first."""

    async def get(self) -> None:
        api_path = await self.require("read", self.get_query_argument("path", "") or "")
        try:
            limit = int(self.get_query_argument("limit", "100") or 100)
            before_arg = self.get_query_argument("before", "") or ""
            before = int(before_arg) if before_arg else None
        except ValueError as e:
            raise web.HTTPError(400, '"limit" and "before" must be whole numbers') from e
        if not 1 <= limit <= 1000:
            raise web.HTTPError(400, '"limit" must be between 1 and 1000')
        file_id = self.service.file_ids.get_id(api_path)
        rows: list[dict[str, Any]] = []
        cursor = None
        if file_id is not None:
            rows, cursor = self.service.execution_log.for_notebook(file_id, limit, before)
        for row in rows:
            row["stream_kept"] = row.pop("spool_key", None) is not None
        self.finish({"executions": rows, "next": cursor})


def kernels_handlers() -> list[tuple[str, type]]:
    kernel = KERNEL_ID
    return [
        (rf"/api/kernels/{kernel}/execute", ExecuteHandler),
        (rf"/api/kernels/{kernel}/(?P<action>restart|interrupt)", CollabKernelActionHandler),
        (r"/api/kernels", CollabMainKernelHandler),
        (r"/api/sessions", CollabSessionRootHandler),
        (r"/api/sessions/(?P<session_id>\w+-\w+-\w+-\w+-\w+)", CollabSessionHandler),
        (r"/api/collab/executions", ExecutionsHandler),
        (r"/api/collab/kernels/(?P<path>.+)/cells/(?P<cell_id>[^/]+)/stream", CellStreamHandler),
        (
            r"/api/collab/kernels/(?P<path>.+)/(?P<action>interrupt|restart|input)",
            NotebookKernelActionHandler,
        ),
        (r"/api/collab/kernels/(?P<path>.+)", NotebookKernelHandler),
    ]
