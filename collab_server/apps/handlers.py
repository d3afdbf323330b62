"""The apps REST API (DESIGN section 12). Thin: checks rights, parses, calls the service.

* ``GET  /api/collab/apps?limit=`` → ``{"apps": [{"id", "title", "description", "version",
  "published", "publisher", "may_run", "inputs", "url", "path"?}]}``: the apps the caller may
  see, newest first (``inputs``: how many parameters; a published notebook without code is no
  app; ``path``, the notebook it was published from, only to its readers)
* ``GET  /api/collab/apps/{id}`` → ``{"id", "title", "description", "version",
  "parameters", "url", "may_run", "pool"}`` (``parameters``: JSON Schema; ``may_run``: may
  the caller run it, and so schedule it; a kernel is warmed only for callers who may)
* ``GET  /api/collab/apps/{id}/openapi.json`` → the app as an OpenAPI 3.1 document
* ``GET|PUT /api/collab/apps/{id}/audience`` ``{"audience": "restricted"|"signed-in"}`` →
  ``{"id", "audience"}``: who, beyond the people granted one by one, may run the app (role
  ``runner`` for every signed-in person). Chosen by whoever may ``share`` and ``execute`` in
  its source notebook, or an administrator (403 for anyone else who may see it); never
  ``"everyone"`` (422: an app runs code on this server); a provider without resource grants
  501. ``GET`` for whoever may see the app (``"everyone"`` shows only when an administrator
  granted it)
* ``POST /api/collab/apps/{id}/runs`` ``{"parameters": {…}, "version"?}`` (``run``) → 202
  ``{"id", "status": "queued", …}``; ``?wait=S`` → 200 with the run if it ended within S
  seconds (else 202); 422 naming the parameter at fault; 429 when too many runs are under way
* ``GET  /api/collab/apps/{id}/runs`` → ``{"runs"}``: the caller's runs of this app
* ``GET  /api/collab/runs?app=&schedule=&limit=`` → ``{"runs"}``: the caller's runs (``mine=1``
  is accepted and implied: nobody lists another person's runs); ``?shared=1``: other people's
  runs shared with the caller (of apps they may read)
* ``GET  /api/collab/runs/{id}`` → the run (``status``, ``progress`` ``{"cell", "of"}``,
  ``result``, ``error``, ``mine``, …); ``…/notebook`` the executed notebook; ``…/html`` the
  report without code (a sandboxed page: served with a ``sandbox`` policy, it never runs as
  us). The owner's, or a reader's the run is shared with who may also read the app.
* ``GET|POST|DELETE /api/collab/runs/{id}/shares`` (the owner only): ``POST``
  ``{"principal": "user:NAME"|"group:NAME"|"signed-in"}`` → 201 ``{"shares": [{"principal",
  "granted_by", "created"}]}``; ``GET`` → the same; ``DELETE ?principal=`` → 204
* ``POST /api/collab/runs/{id}/cancel`` → the cancelled run (its kernel is killed); 409 if it
  had ended already
* ``POST /api/collab/apps/{id}/schedules`` ``{"cron", "parameters"}`` (``run``) → 201
  the schedule ``{"id", "app", "user", "cron", "parameters", "created", "active", "stopped",
  "last_fired", "next"}`` (``next``: its next firing, ISO-8601 UTC; null once stopped);
  ``GET`` the caller's schedules of the app
* ``GET  /apps/{id}``: the app page (a form from the schema, runs, the report)
* ``GET  /api/collab/schedules`` (mine), ``GET``/``DELETE /api/collab/schedules/{id}``;
  a schedule's runs are ``GET /api/collab/runs?schedule={id}``

Beside each person's id, their display name (:mod:`..auth.people`; the id when none is
known): ``publisher_name`` in the listing and an app's description, ``user_name`` in every
run.

An app the caller may not see answers 404, the same as no app at all (ids cannot be probed);
one they may see but not run answers 403 on ``runs``. Another person's run or schedule is 404
(a run shared with the caller reads, but its cancel and shares stay 404 to them).
"""

from __future__ import annotations

import json
import math
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..auth.jupyter import token_from_request
from ..auth.people import people_of
from ..core.errors import Forbidden, Invalid, NotFound, Unauthenticated
from ..core.http import CollabHandlerMixin, json_object, whole_number
from ..pages import OUTPUT_FRAME_POLICY, PageHandler
from .openapi import openapi
from .schedules import schedule_json
from .service import App, AppsService, Caller
from .store import Run

SERVICE_SETTING = "collab_apps"
MAX_WAIT = 300.0
_ID = r"[A-Za-z0-9_-]+"


class AppsHandler(CollabHandlerMixin, APIHandler):
    @property
    def service(self) -> AppsService:
        return self.settings[SERVICE_SETTING]

    @property
    def caller(self) -> Caller:
        user = self.current_user
        if user is None:
            raise Unauthenticated("Sign in first")
        return Caller(str(user.username), token_from_request(self))

    async def app_and_access(self, pid: str, version: int | None = None) -> tuple[App, bool]:
        """The app the caller may see (else 404) and whether they may run it."""
        seen, runnable = await self.service.access(self.caller.token, pid)
        if not seen:
            raise NotFound("No such app")
        try:
            return await self.service.app(pid, version), runnable
        except NotFound:
            raise NotFound("No such app (or version)") from None

    async def visible_app(self, pid: str, version: int | None = None) -> App:
        return (await self.app_and_access(pid, version))[0]

    async def runnable_app(self, pid: str, version: int | None = None) -> App:
        app, runnable = await self.app_and_access(pid, version)
        if not runnable:
            raise Forbidden("You may not run this app")
        return app

    def number_argument(self, name: str, default: float, high: float) -> float:
        text = self.get_query_argument(name, None)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            raise Invalid(f'"{name}" must be a number') from None
        if not math.isfinite(value) or value < 0:
            raise Invalid(f'"{name}" must be a number of at least 0')
        return min(value, high)

    async def runs_json(self, runs: list[Run], mine: bool = False) -> list[dict[str, Any]]:
        """Runs as answered, each with ``user_name`` beside ``user`` (one look-up for all);
        ``mine`` adds whether each is the caller's."""
        # "mine": the page shows a run shared with the caller read-only, "Run by NAME".
        me = self.caller.username
        found = [
            {**r.to_json(), "mine": r.owner == me} if mine else r.to_json() for r in runs
        ]  # fmt: skip
        await people_of(self.settings).add_names(found, "user")
        return found

    async def run_json(self, run: Run, mine: bool = False) -> dict[str, Any]:
        return (await self.runs_json([run], mine))[0]

    def send_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(body))


class AppListHandler(AppsHandler):
    async def get(self) -> None:
        limit = int(self.number_argument("limit", 50, 500))
        apps = await self.service.listing(self.caller.token, limit)
        await people_of(self.settings).add_names(apps, "publisher")
        self.send_json({"apps": apps})


class AppHandler(AppsHandler):
    async def get(self, pid: str) -> None:
        app, may_run = await self.app_and_access(pid)
        described = self.service.describe(app, may_run)
        await people_of(self.settings).add_names([described], "publisher")
        self.send_json(described)


class OpenAPIHandler(AppsHandler):
    async def get(self, pid: str) -> None:
        app = await self.visible_app(pid)
        self.send_json(openapi(app.to_json(), self.base_url))


class AppAudienceHandler(AppsHandler):
    async def get(self, pid: str) -> None:
        audience = await self.service.run_audience(self.caller.token, pid)
        self.send_json({"id": pid, "audience": audience})

    async def put(self, pid: str) -> None:
        body = json_object(self)
        unknown = sorted(set(body) - {"audience"})
        if unknown:
            raise Invalid(f'Unknown field "{unknown[0]}": send {{"audience": "signed-in"}}')
        audience = await self.service.set_run_audience(self.caller, pid, body.get("audience"))
        self.send_json({"id": pid, "audience": audience})


class AppRunsHandler(AppsHandler):
    async def post(self, pid: str) -> None:
        body = json_object(self) if self.request.body.strip() else {}
        version = body.get("version")
        if version is not None:
            version = whole_number(version, "version", low=1)
        unknown = sorted(set(body) - {"parameters", "version"})
        if unknown:
            raise Invalid(f'Unknown field "{unknown[0]}": send {{"parameters": {{…}}}}')
        app = await self.runnable_app(pid, version)
        wait = self.number_argument("wait", 0.0, MAX_WAIT)
        run = await self.service.submit(self.caller, app, body.get("parameters"))
        await self.service.wait(run.id, wait)
        self.set_header("Location", f"{self.base_url.rstrip('/')}/api/collab/runs/{run.id}")
        self.send_json(await self.run_json(run), 200 if wait and run.finished else 202)

    async def get(self, pid: str) -> None:
        await self.visible_app(pid)
        limit = int(self.number_argument("limit", 50, 500))
        runs = self.service.runs(self.caller.username, pid, None, limit)
        self.send_json({"runs": await self.runs_json(runs)})


class RunsHandler(AppsHandler):
    async def get(self) -> None:
        caller = self.caller
        limit = int(self.number_argument("limit", 50, 500))
        app = self.get_query_argument("app", None)
        schedule = self.get_query_argument("schedule", None)
        shared = self.get_query_argument("shared", "") not in ("", "0", "false")
        if shared:
            if schedule is not None:
                raise Invalid('"schedule" lists your own runs: leave out "shared"')
            runs = await self.service.shared_runs(caller, app, limit)
        else:
            runs = self.service.runs(caller.username, app, schedule, limit)
        self.send_json({"runs": await self.runs_json(runs, mine=True)})


class RunHandler(AppsHandler):
    async def get(self, run_id: str) -> None:
        run = await self.service.readable_run(run_id, self.caller)
        self.send_json(await self.run_json(run, mine=True))


class RunSharesHandler(AppsHandler):
    async def get(self, run_id: str) -> None:
        self.send_json({"shares": self.service.shares(run_id, self.caller.username)})

    async def post(self, run_id: str) -> None:
        body = json_object(self)
        unknown = sorted(set(body) - {"principal"})
        if unknown:
            raise Invalid(f'Unknown field "{unknown[0]}": send {{"principal": "user:NAME"}}')
        shares = await self.service.share(run_id, self.caller, body.get("principal"))
        self.send_json({"shares": shares}, 201)

    async def delete(self, run_id: str) -> None:
        principal = self.get_query_argument("principal", "")
        if not principal:
            raise Invalid('Say whose share to remove: "?principal=user:NAME"')
        await self.service.unshare(run_id, self.caller.username, principal)
        self.set_status(204)
        self.finish()


class CancelHandler(AppsHandler):
    async def post(self, run_id: str) -> None:
        run = await self.service.cancel(run_id, self.caller.username)
        self.send_json(await self.run_json(run))


class RunNotebookHandler(AppsHandler):
    async def get(self, run_id: str) -> None:
        self.send_json(await self.service.notebook(run_id, self.caller))


class RunReportHandler(AppsHandler):
    @property
    def content_security_policy(self) -> str:
        # The report holds the notebook's outputs (HTML, scripts): opened directly it is an
        # opaque origin with no access to the cookie or the API.
        return OUTPUT_FRAME_POLICY

    async def get(self, run_id: str) -> None:
        page = await self.service.report(run_id, self.caller)
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(page, set_content_type="text/html; charset=utf-8")


class AppSchedulesHandler(AppsHandler):
    async def post(self, pid: str) -> None:
        body = json_object(self)
        unknown = sorted(set(body) - {"cron", "parameters"})
        if unknown:
            raise Invalid(f'Unknown field "{unknown[0]}": send {{"cron", "parameters"}}')
        app = await self.runnable_app(pid)
        schedule = await self.service.add_schedule(
            self.caller, app, body.get("cron"), body.get("parameters")
        )
        self.send_json(schedule_json(schedule), 201)

    async def get(self, pid: str) -> None:
        await self.visible_app(pid)
        found = self.service.store.schedules(self.caller.username, pid)
        self.send_json({"schedules": [schedule_json(s) for s in found]})


class SchedulesHandler(AppsHandler):
    async def get(self) -> None:
        found = self.service.store.schedules(self.caller.username)
        self.send_json({"schedules": [schedule_json(s) for s in found]})


class ScheduleHandler(AppsHandler):
    async def get(self, schedule_id: str) -> None:
        self.send_json(schedule_json(self.service.schedule(schedule_id, self.caller.username)))

    async def delete(self, schedule_id: str) -> None:
        await self.service.delete_schedule(schedule_id, self.caller.username)
        self.set_status(204)
        self.finish()


def apps_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    return [
        (rf"/api/collab/apps/({_ID})/openapi\.json", OpenAPIHandler),
        (rf"/api/collab/apps/({_ID})/audience", AppAudienceHandler),
        (rf"/api/collab/apps/({_ID})/runs", AppRunsHandler),
        (rf"/api/collab/apps/({_ID})/schedules", AppSchedulesHandler),
        (rf"/api/collab/apps/({_ID})", AppHandler),
        (r"/api/collab/apps/?", AppListHandler),
        (r"/api/collab/runs/?", RunsHandler),
        (rf"/api/collab/runs/({_ID})/cancel", CancelHandler),
        (rf"/api/collab/runs/({_ID})/shares", RunSharesHandler),
        (rf"/api/collab/runs/({_ID})/notebook", RunNotebookHandler),
        (rf"/api/collab/runs/({_ID})/html", RunReportHandler),
        (rf"/api/collab/runs/({_ID})", RunHandler),
        (r"/api/collab/schedules/?", SchedulesHandler),
        (rf"/api/collab/schedules/({_ID})", ScheduleHandler),
        # The app page: the web front end's shell, like every other page.
        (rf"/apps/({_ID})", PageHandler),
    ]
