"""The versions REST API (DESIGN section 10). Thin: checks rights, parses, calls the service.

* ``GET  /api/collab/versions/{path}?limit&before`` (``read``) → ``{"versions", "next"}``
* ``POST /api/collab/versions/{path}`` ``{"label"}`` (``write``) → 201 the version
* ``GET  /api/collab/versions/{path}/{id}?outputs=keep|strip`` (``read``) → the notebook
* ``PATCH /api/collab/versions/{path}/{id}`` ``{"label"}`` (``write``) → the version, named
  (``null`` or ``""`` removes the name)
* ``GET  /api/collab/versions/{path}/{id}/diff?to={id|current}&outputs=1`` (``read``)
* ``POST /api/collab/versions/{path}/{id}/restore`` (``write``) → 201 the ``restore`` version
* ``POST /api/collab/publish/{path}`` ``{"strip_outputs", "title", "description"}``
  (``share``) → 201 ``{"id", "version", "path", "url", …}``
* ``GET  /api/collab/published?limit=`` → ``{"published": […]}``: the ones the caller may
  read, newest first (by their newest version), at most ``limit`` (1–500, 50 by default)
* ``GET  /api/collab/published/{id}?version=n`` → ``{…, "notebook", "may_withdraw"}``
* ``DELETE /api/collab/published/{id}`` (``share`` on the source notebook, or a server
  administrator when the source is gone) → 204: the copy is withdrawn, every version of it;
  its readers' grants go with it, and an app made of it stops (its schedules stop at their
  next firing, saying why)
* ``GET|PUT /api/collab/published/{id}/audience`` ``{"audience": "restricted"|"signed-in"|
  "everyone"}`` (``share`` on the source notebook; a provider without resource grants 501) —
  who, beyond the people granted one by one, may read the copy
* ``POST /api/collab/clone`` ``{"source", "target"}`` → 201 ``{"path"}``

A published copy carries ``publisher_name`` beside ``publisher`` (the publisher's display name,
:mod:`..auth.people`; the id when none is known).

Rights on ``contents:{path}`` are asked before the notebook is looked up, so a notebook one may
not read answers 403 whether or not it exists. A published copy may be read by whoever the
provider lets ``read`` resource ``published:{id}``, by whoever may ``share`` its source
notebook (its publishers), and by administrators.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..auth.handlers import off_loop, require_capability
from ..auth.jupyter import is_allowed, provider_of
from ..auth.people import people_of
from ..auth.provider import AUDIENCES, ResourceSharing, capability
from ..core.errors import CollabError
from ..core.http import CollabHandlerMixin, json_object, whole_number
from .service import Published, VersionService, name_from_title, notebook_path

SERVICE_SETTING = "collab_versions"
PUBLISHED_LISTED = 50  # by default
MAX_PUBLISHED_LISTED = 500
_VERSION_ID = r"[^/]+"


class VersionsHandler(CollabHandlerMixin, APIHandler):
    @property
    def service(self) -> VersionService:
        return self.settings[SERVICE_SETTING]

    @property
    def author(self) -> dict[str, str]:
        user = self.current_user
        if user is None:
            raise web.HTTPError(401, "Sign in first")
        name = getattr(user, "display_name", "") or getattr(user, "name", "") or user.username
        return {"id": str(user.username), "name": str(name)}

    async def authorize(self, path: str, action: str) -> str:
        self.author  # noqa: B018 - 401 first
        try:
            api_path = notebook_path(path)
        except CollabError as e:
            raise web.HTTPError(e.status, e.message) from e
        if not await is_allowed(self, action, f"contents:{api_path}"):
            verb = {"read": "see", "write": "edit", "share": "publish"}.get(action, action)
            raise web.HTTPError(403, f"You may not {verb} this notebook")
        return api_path

    async def may_read(self, row: Published) -> bool:
        """Readers of a published copy: the provider's grant on ``published:{id}``, else
        whoever may ``share`` the source (its publishers); administrators through either."""
        if await is_allowed(self, "read", f"published:{row.id}"):
            return True
        source = self.service.source_path(row)
        return source is not None and await is_allowed(self, "share", f"contents:{source}")

    async def readable_published(self, pid: str, version: int | None) -> Published:
        """The same 404 for "no such copy" and "not yours to read": ids cannot be probed."""
        try:
            row: Published | None = self.service.published(pid, version)
        except CollabError:
            row = None
        if row is None or not await self.may_read(row):
            raise web.HTTPError(404, "No such published notebook (or version)")
        return row

    async def named(self, copies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Published copies with ``publisher_name`` beside ``publisher`` (one look-up)."""
        await people_of(self.settings).add_names(copies, "publisher")
        return copies

    def created(self, body: dict[str, Any]) -> None:
        self.set_status(201)
        self.finish(body)


class VersionListHandler(VersionsHandler):
    async def get(self, path: str) -> None:
        api_path = await self.authorize(path, "read")
        limit = self.int_argument("limit", 50, low=1)
        before = self.int_argument("before", None)
        self.finish(await self.service.list_versions(api_path, limit, before))

    async def post(self, path: str) -> None:
        api_path = await self.authorize(path, "write")
        body = json_object(self) if self.request.body.strip() else {}
        version = await self.service.label(api_path, body.get("label"), self.author)
        self.created(version.to_json())


class VersionHandler(VersionsHandler):
    async def get(self, path: str, version_id: str) -> None:
        api_path = await self.authorize(path, "read")
        outputs = self.get_query_argument("outputs", "keep")
        if outputs not in ("keep", "strip"):
            raise web.HTTPError(400, '"outputs" must be keep or strip')
        nb = await self.service.get(api_path, version_id, outputs == "keep")
        self.finish(nb)

    async def patch(self, path: str, version_id: str) -> None:
        api_path = await self.authorize(path, "write")
        body = json_object(self)
        if "label" not in body:
            raise web.HTTPError(400, 'Say the new name: {"label": "…"} (null removes it)')
        version = await self.service.rename(api_path, version_id, body["label"])
        self.finish(version.to_json())


class DiffHandler(VersionsHandler):
    async def get(self, path: str, version_id: str) -> None:
        api_path = await self.authorize(path, "read")
        to = self.get_query_argument("to", "current")
        outputs = self.get_query_argument("outputs", "0") in ("1", "true", "yes")
        self.finish(await self.service.diff(api_path, version_id, to, outputs))


class RestoreHandler(VersionsHandler):
    async def post(self, path: str, version_id: str) -> None:
        api_path = await self.authorize(path, "write")
        version = await self.service.restore(api_path, version_id, self.author)
        self.created(version.to_json())


class PublishHandler(VersionsHandler):
    async def post(self, path: str) -> None:
        api_path = await self.authorize(path, "share")
        body = json_object(self) if self.request.body.strip() else {}
        result = await self.service.publish(
            api_path,
            self.author,
            body.get("strip_outputs", True),
            body.get("title"),
            body.get("description"),
        )
        (named,) = await self.named([result])
        self.created(named)


class PublishedHandler(VersionsHandler):
    async def get(self, pid: str = "") -> None:
        self.author  # noqa: B018 - 401 first
        if not pid:
            limit = self.int_argument("limit", PUBLISHED_LISTED, 1, MAX_PUBLISHED_LISTED)
            rows: list[Published] = []
            for row in self.service.published_ids():  # newest first
                if len(rows) >= limit:
                    break
                if await self.may_read(row):
                    rows.append(row)
            self.finish({"published": await self.named([row.to_json() for row in rows])})
            return
        row = await self.readable_published(pid, self.int_argument("version", None))
        notebook = await self.service.published_content(row)
        (copy,) = await self.named([row.to_json()])
        self.finish({**copy, "notebook": notebook, "may_withdraw": await self.may_withdraw(row)})

    async def may_withdraw(self, row: Published) -> bool:
        source = self.service.source_path(row)
        if source is None:
            return bool(await is_allowed(self, "admin", "server"))
        return bool(await is_allowed(self, "share", f"contents:{source}"))

    async def delete(self, pid: str = "") -> None:
        self.author  # noqa: B018 - 401 first
        row = await self.readable_published(pid, None)  # 404 alike for "not yours to read"
        if not await self.may_withdraw(row):
            raise web.HTTPError(403, "Only people who may share its notebook withdraw a copy")
        await self.service.unpublish(row.id)
        # Grants on the copy and on the app made of it would outlive it: drop them.
        sharing = capability(provider_of(self), ResourceSharing)
        if sharing is not None:
            for resource in (f"published:{row.id}", f"apps:{row.id}"):
                for grant in await off_loop(sharing.list_resource_grants, resource):
                    await off_loop(sharing.remove_resource_grant, resource, grant["principal"])
        self.set_status(204)
        self.finish()


RESTRICTED = "restricted"  # only the people (and groups) granted one by one


class AudienceHandler(VersionsHandler):
    """Who may read a published copy as a whole audience. Choosing is for the people who may
    ``share`` its source notebook (its publishers), not only administrators: a publisher opens
    their own copy to the organisation without sharing the workspace."""

    async def publisher_copy(self, pid: str) -> tuple[Published, ResourceSharing]:
        self.author  # noqa: B018 - 401 first
        row = await self.readable_published(pid, None)
        source = self.service.source_path(row)
        if source is None or not await is_allowed(self, "share", f"contents:{source}"):
            raise web.HTTPError(
                403, "Only people who may share its notebook choose who reads a published copy"
            )
        try:
            return row, require_capability(self, ResourceSharing)
        except CollabError as e:
            raise web.HTTPError(e.status, e.message) from e

    async def audience(self, sharing: ResourceSharing, resource: str) -> str:
        grants = await off_loop(sharing.list_resource_grants, resource)
        principals = {grant.get("principal") for grant in grants}
        # The widest audience granted is the one in force.
        return next((a for a in reversed(AUDIENCES) if a in principals), RESTRICTED)

    async def get(self, pid: str) -> None:
        row, sharing = await self.publisher_copy(pid)
        resource = f"published:{row.id}"
        self.finish({"id": row.id, "audience": await self.audience(sharing, resource)})

    async def put(self, pid: str) -> None:
        row, sharing = await self.publisher_copy(pid)
        wanted = json_object(self).get("audience")
        if wanted not in (RESTRICTED, *AUDIENCES):
            choices = ", ".join(f'"{a}"' for a in (RESTRICTED, *AUDIENCES))
            raise web.HTTPError(422, f'"audience" must be one of {choices}')
        resource = f"published:{row.id}"
        try:
            for audience in AUDIENCES:
                if audience != wanted:
                    await off_loop(sharing.remove_resource_grant, resource, audience)
            if wanted != RESTRICTED:
                await off_loop(
                    sharing.add_resource_grant, resource, wanted, "viewer", self.author["id"]
                )
        except CollabError as e:
            raise web.HTTPError(e.status, e.message) from e
        self.finish({"id": row.id, "audience": wanted})


class CloneHandler(VersionsHandler):
    async def post(self) -> None:
        author = self.author
        body = json_object(self)
        source = body.get("source")
        if isinstance(source, dict) and "published" in source:
            version = source.get("version")
            if version is not None:
                version = whole_number(version, "version", low=1)
            row = await self.readable_published(str(source["published"]), version)
            name = f"{name_from_title(row.title)}.ipynb"  # the title names the copy
        elif isinstance(source, dict) and isinstance(source.get("path"), str):
            api_path = await self.authorize(source["path"], "read")
            name = api_path.rsplit("/", 1)[-1]
        else:
            raise web.HTTPError(
                400, '"source" must be {"path", "version"} or {"published", "version"}'
            )

        async def may_write(path: str) -> bool:
            return await is_allowed(self, "write", f"contents:{path}")

        path = await self.service.clone(source, body.get("target", ""), author, may_write, name)
        self.created({"path": path})


def versions_handlers() -> list[tuple[str, type]]:
    return [
        (rf"/api/collab/versions/(.+?\.ipynb)/({_VERSION_ID})/diff", DiffHandler),
        (rf"/api/collab/versions/(.+?\.ipynb)/({_VERSION_ID})/restore", RestoreHandler),
        (rf"/api/collab/versions/(.+?\.ipynb)/({_VERSION_ID})", VersionHandler),
        (r"/api/collab/versions/(.*)", VersionListHandler),
        (r"/api/collab/publish/(.*)", PublishHandler),
        (r"/api/collab/published/?", PublishedHandler),
        (r"/api/collab/published/([^/]+)/audience", AudienceHandler),
        (r"/api/collab/published/([^/]+)", PublishedHandler),
        (r"/api/collab/clone", CloneHandler),
    ]
