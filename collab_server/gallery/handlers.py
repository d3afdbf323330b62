"""The gallery REST API (DESIGN section 11). Thin: checks rights, parses, calls the service.

* ``GET    /api/collab/search?q=&limit=&offset=`` → ``{"total", "results"}`` (no ``q``: all
  readable notebooks, most recently updated first)
* ``GET    /api/collab/notebooks?limit=&offset=`` → ``{"total", "notebooks": [{"path",
  "title", "description", "owner", "language", "tags", "stars", "views", "runs", "health",
  "health_label", "last_run", "updated"}], "next"}``: every readable notebook, most recently
  updated first, up to 1000 a page (``next``: the following offset, or null)
* ``GET    /api/collab/tags`` → ``{"tags": [{"tag", "count"}]}`` (readable notebooks only)
* ``PUT    /api/collab/tags/{path}`` ``{"tag"}`` / ``DELETE`` (``write``) → ``{"path", "tags"}``
* ``GET    /api/collab/stars`` → ``{"results"}`` (mine, still readable)
* ``PUT    /api/collab/stars/{path}`` / ``DELETE`` (``read``) → ``{"path", "starred", "stars"}``
* ``GET    /api/collab/trending`` → ``{"results"}`` (readable, by people in ``trending_days``)
* ``GET    /api/collab/recommendations`` → ``{"results": [{…, "score", "reason", "kind"}]}``
  (``kind`` ``group``, "Popular in your group G…", when the provider has the ``Groups``
  capability: what the members of the caller's groups viewed or ran in 30 days)
* ``GET    /api/collab/notebooks/{path}/info`` (``read``); ``cloned_from.path`` only for a
  caller who may read the source; ``published`` only if the caller may read the copy
* ``/api/collab/notebooks/{path}/change-requests…``: :mod:`.change_handlers`
* ``GET    /api/collab/notebooks/{path}/similar`` (``read``) → ``{"results"}``
* ``POST   /api/collab/notebooks/{path}/views`` (``read``) → 204
* ``GET    /api/collab/activity?since=&path=&limit=&offset=`` → ``{"activity": [{"day",
  "path", "person", "views", "runs"}], "next"}``: views and runs per person, notebook and UTC
  day, on notebooks the caller may read; a server administrator sees everyone's, anyone else
  their own
* ``POST   /api/collab/notebooks/{path}/executions`` ``{"executions": [...]}`` (server
  administrators only: importing another system's log) → 202. Runs on the server's kernels are
  recorded by the server itself; letting people report their own would let them fake health.

Rights are asked on ``contents:{path}`` before the notebook is looked up, so a notebook one may
not read answers 403 whether or not it exists. Listings carry the permission filter into their
SQL (:class:`~.index.Readable`), so nothing unreadable is ever counted, quoted or named.

Every notebook in a listing (search, the bulk listing, stars, trending, recommendations,
similar) and the info carry ``owner_name`` beside ``owner`` (the owner's display name, from
:mod:`..auth.people`; the id when none is known), and the info's published copies
``publisher_name``.

Every listing of notebooks (search, the bulk listing, stars, trending, recommendations) gives
each notebook the caller may edit (``write``) its ``open_change_requests`` count, from one query
per page; a notebook the caller may only read has no such key.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..auth import Groups, SharedWith, capability, permissions_revision_of, resolve
from ..auth.jupyter import is_allowed, normalize_api_path, provider_of, token_from_request
from ..auth.people import people_of
from ..core.http import CollabHandlerMixin, json_object
from .activity import Execution
from .health import Health
from .index import MAX_CATALOG, MAX_LIMIT, Readable, iso
from .query import ParsedQuery, parse_query
from .recommend import Recommendation
from .service import GalleryService

SERVICE_SETTING = "collab_gallery"
_BUILT_IN = "collab_server.auth."
_CACHE_SIZE = 1000
MAX_EXECUTIONS = 10_000
MAX_ACTIVITY = 10_000
MAX_GROUPS = 20  # a person's groups looked at for "popular in your group"


class GalleryHandler(CollabHandlerMixin, APIHandler):
    """Shared by every gallery route: who is asking, what they may read, errors as JSON."""

    @property
    def gallery(self) -> GalleryService:
        return self.settings[SERVICE_SETTING]

    @property
    def person(self) -> str:
        if self.current_user is None:
            raise web.HTTPError(401, "Sign in first")
        return str(self.current_user.username)

    async def readable(self) -> Readable:
        """What the caller may read, for the SQL filter (cached per permissions revision)."""
        person = self.person
        provider = provider_of(self)
        if await is_allowed(self, "admin", "server"):
            return Readable.everything()
        token = token_from_request(self)
        shares = capability(provider, SharedWith)
        if shares is not None and type(provider).__module__.startswith(_BUILT_IN):
            # The built-in providers list a person's grants: the filter is a few ranges.
            found = await resolve(shares.shared_with(token))
            return Readable.grants(folders=[str(s["path"]) for s in found or []])
        # Any other provider answers yes or no per path: ask about every indexed notebook
        # before the SQL runs (a provider may be async), keep the answer while neither its
        # permissions revision nor the index changed.
        revision = permissions_revision_of(provider)
        key = None
        if revision is not None:
            key = (person, await resolve(revision()), self.gallery.generation)
            cache = self.gallery.readable_cache
            if key in cache:
                return cache[key]
        indexed = await self.gallery.read(self.gallery.reader_index.indexed)
        allowed = [
            file_id
            for path, (file_id, _) in indexed.items()
            if await resolve(provider.allowed(token, "read", f"contents:{path}"))
        ]
        readable = Readable.file_ids(allowed)
        if key is not None:
            cache = self.gallery.readable_cache
            if len(cache) > _CACHE_SIZE:
                cache.clear()
            cache[key] = readable
        return readable

    async def authorize(self, path: str, action: str) -> str:
        """The API path of a notebook the caller may ``action`` (else 400/403)."""
        self.person  # noqa: B018 - 401 first
        api_path = normalize_api_path(path)
        if not api_path or not api_path.endswith(".ipynb"):
            raise web.HTTPError(400, "Name a notebook (.ipynb) in the address")
        if not await is_allowed(self, action, f"contents:{api_path}"):
            verb = {"read": "see", "write": "edit", "execute": "run code in"}.get(action, action)
            raise web.HTTPError(403, f"You may not {verb} this notebook")
        return api_path

    async def file_id(self, api_path: str) -> str:
        found = await self.gallery.read(lambda: self.gallery.reader_index.file_id_at(api_path))
        if found is None:
            raise web.HTTPError(404, f"No notebook {api_path!r} in the gallery (yet)")
        return found

    async def with_open_change_requests(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` (results with a ``path``), each the caller may edit given its count of
        open change requests as ``open_change_requests`` (one query for the page); rows the
        caller may only read get no such key, so nobody learns of others' proposals."""
        writable = [
            r["path"] for r in rows if await is_allowed(self, "write", f"contents:{r['path']}")
        ]
        if writable:
            changes = self.gallery.reader_changes
            counts = await self.gallery.read(lambda: changes.open_counts_at(writable))
            allowed = set(writable)
            for row in rows:
                if row["path"] in allowed:
                    row["open_change_requests"] = counts.get(row["path"], 0)
        return rows

    async def named(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` with ``owner_name`` beside each ``owner`` (one look-up for the page)."""
        await people_of(self.settings).add_names(rows, "owner")
        return rows


class SearchHandler(GalleryHandler):
    async def get(self) -> None:
        text = self.get_query_argument("q", "")
        # No words: every readable notebook, most recently updated first ("Recent").
        query = parse_query(text) if text.strip() else ParsedQuery(match=None)
        limit = self.int_argument("limit", 20, 1, MAX_LIMIT)
        offset = self.int_argument("offset", 0)
        readable = await self.readable()
        # owner:NAME takes the name on a card as well as an id (an opaque one with JWT).
        owners = people_of(self.settings).ids_named(
            f.value for f in query.filters if f.field == "owner"
        )
        index = self.gallery.reader_index
        result = await self.gallery.read(
            lambda: index.search(query, readable, limit=limit, offset=offset, owners=owners)
        )
        await self.with_open_change_requests(await self.named(result["results"]))
        self.finish(result)


class NotebookListHandler(GalleryHandler):
    """Every readable notebook with its info's facts, a page at a time (the Python client's
    ``notebooks()``: one request per page instead of one per notebook)."""

    async def get(self) -> None:
        limit = self.int_argument("limit", 100, 1, MAX_CATALOG)
        offset = self.int_argument("offset", 0)
        readable, index = await self.readable(), self.gallery.reader_index
        page = await self.gallery.read(lambda: index.catalog(readable, limit, offset))
        following = offset + limit
        page["next"] = following if following < page["total"] else None
        await self.with_open_change_requests(await self.named(page["notebooks"]))
        self.finish(page)


class TagsHandler(GalleryHandler):
    async def get(self, path: str = "") -> None:
        if path:
            raise web.HTTPError(405, "GET /api/collab/notebooks/{path}/info lists its tags")
        readable = await self.readable()
        tags = await self.gallery.read(lambda: self.gallery.reader_activity.tag_counts(readable))
        self.finish({"tags": tags})

    async def _change(self, path: str, add: bool) -> None:
        api_path = await self.authorize(path, "write")
        body = json_object(self)
        tag = body.get("tag")
        file_id = await self.file_id(api_path)
        person, activity = self.person, self.gallery.activity

        def change() -> list[str]:
            if add:
                activity.add_tag(file_id, tag, person)  # type: ignore[arg-type]
            else:
                activity.remove_tag(file_id, tag)  # type: ignore[arg-type]
            return activity.tags_of(file_id)

        tags = await self.gallery.write(change)
        self.finish({"path": api_path, "tags": tags})

    async def put(self, path: str = "") -> None:
        await self._change(path, True)

    async def delete(self, path: str = "") -> None:
        await self._change(path, False)


class StarsHandler(GalleryHandler):
    async def get(self, path: str = "") -> None:
        if path:
            raise web.HTTPError(405, "GET /api/collab/notebooks/{path}/info says if you starred it")
        person, readable = self.person, await self.readable()

        def mine() -> list[dict[str, Any]]:
            ids = self.gallery.reader_activity.starred_by(person)
            return self.gallery.reader_index.listing(ids, readable)

        found = await self.named(await self.gallery.read(mine))
        self.finish({"results": await self.with_open_change_requests(found)})

    async def _change(self, path: str, add: bool) -> None:
        api_path = await self.authorize(path, "read")
        file_id = await self.file_id(api_path)
        person, activity = self.person, self.gallery.activity

        def change() -> dict[str, Any]:
            if add:
                activity.star(file_id, person)
            else:
                activity.unstar(file_id, person)
            return {"starred": activity.has_starred(file_id, person),
                    "stars": activity.counts(file_id)["stars"]}  # fmt: skip

        result = await self.gallery.write(change)
        self.finish({"path": api_path, **result})

    async def put(self, path: str = "") -> None:
        await self._change(path, True)

    async def delete(self, path: str = "") -> None:
        await self._change(path, False)


class TrendingHandler(GalleryHandler):
    async def get(self) -> None:
        limit = self.int_argument("limit", 20, 1, MAX_LIMIT)
        readable, gallery = await self.readable(), self.gallery
        since = time.time() - gallery.trending_days * 86400

        def trending() -> list[dict[str, Any]]:
            rows = gallery.reader_activity.trending(readable, since, limit)
            listed = gallery.reader_index.listing([r["file_id"] for r in rows], readable)
            people = {r["path"]: r["people"] for r in rows}
            return [{**item, "people": people.get(item["path"], 0)} for item in listed]

        found = await self.named(await gallery.read(trending))
        self.finish({"results": await self.with_open_change_requests(found)})


class RecommendationsHandler(GalleryHandler):
    async def get(self) -> None:
        limit = self.int_argument("limit", 20, 1, MAX_LIMIT)
        person, readable, gallery = self.person, await self.readable(), self.gallery
        revision_of = permissions_revision_of(provider_of(self))
        revision = await resolve(revision_of()) if revision_of else None
        groups = await self.groups()
        # The service keeps each person's candidates a while and checks them on every call
        # against ``readable`` (computed for this request).
        found = await gallery.read(lambda: _described(gallery, gallery.recommend(
            person, readable, limit, groups, revision), readable))  # fmt: skip
        found = await self.named(found)
        self.finish({"results": await self.with_open_change_requests(found)})

    async def groups(self) -> dict[str, list[str]]:
        """The caller's groups and their members, if the provider tells (capability
        ``Groups``); at most :data:`MAX_GROUPS` groups."""
        provider = provider_of(self)
        found = capability(provider, Groups)
        if found is None:
            return {}
        names = await resolve(found.groups_of(token_from_request(self)))
        return {
            str(name): [str(m) for m in await resolve(found.group_members(name)) or []]
            for name in sorted(names or [])[:MAX_GROUPS]
        }


class ActivityHandler(GalleryHandler):
    """Views and runs per person, notebook and day (nbgallery-python's clicks roll-up)."""

    async def get(self) -> None:
        person = self.person
        limit = self.int_argument("limit", 1000, 1, MAX_ACTIVITY)
        offset = self.int_argument("offset", 0)
        since = _day_argument(self.get_query_argument("since", ""))
        path = self.get_query_argument("path", "")
        file_id = await self.file_id(await self.authorize(path, "read")) if path else None
        # Who viewed what is personal: only an administrator sees other people's rows.
        admin = await is_allowed(self, "admin", "server")
        readable, gallery = await self.readable(), self.gallery
        rows = await gallery.read(
            lambda: gallery.reader_activity.daily(
                readable, since_day=since, person=None if admin else person,
                file_id=file_id, limit=limit + 1, offset=offset,
            )
        )  # fmt: skip
        more, page = len(rows) > limit, rows[:limit]
        await people_of(self.settings).add_names(page, "person")
        self.finish({"activity": page, "next": offset + limit if more else None})


def _day_argument(value: str) -> str:
    """``since`` (a date or an ISO-8601 time) as the UTC day it falls on, or ``""``."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPError(
            400, '"since" is a date or time in ISO-8601, e.g. 2026-01-31 or 2026-01-31T12:00Z'
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d")


class NotebookHandler(GalleryHandler):
    """``/api/collab/notebooks/{path}/(info|similar|views|executions)``."""

    async def get(self, path: str, what: str) -> None:
        api_path = await self.authorize(path, "read")
        file_id = await self.file_id(api_path)
        if what == "info":
            self.finish(await self._info(api_path, file_id))
        elif what == "similar":
            readable, gallery = await self.readable(), self.gallery
            found = await gallery.read(
                lambda: _described(
                    gallery, gallery.reader_recommender.similar(file_id, readable), readable
                )
            )
            self.finish({"results": await self.named(found)})
        else:
            raise web.HTTPError(405, f"Use POST for {what}")

    async def post(self, path: str, what: str) -> None:
        if what == "views":
            api_path = await self.authorize(path, "read")
            file_id, person = await self.file_id(api_path), self.person
            await self.gallery.record_view(file_id, person)
            self.set_status(204)
            self.finish()
        elif what == "executions":
            await self._executions(path)
        else:
            raise web.HTTPError(405, f"Use GET for {what}")

    async def _executions(self, path: str) -> None:
        """Executions imported by an administrator (from another system's log; they may name
        the person). The server's own kernels record every run themselves, so nobody else may
        report runs: health is a signal people trust."""
        admin = await is_allowed(self, "admin", "server")
        if not admin:
            raise web.HTTPError(
                403, "Runs are recorded by the server's kernels; only administrators import them"
            )
        api_path = await self.authorize(path, "read")
        file_id = await self.file_id(api_path)
        body = json_object(self)
        items = body.get("executions")
        if not isinstance(items, list) or not items or len(items) > MAX_EXECUTIONS:
            raise web.HTTPError(
                400, f'"executions" is a list of 1 to {MAX_EXECUTIONS} cell executions'
            )
        executions = [_execution(item, self.person, admin) for item in items]
        self.gallery.record_executions(file_id, executions)
        for person in sorted({e.person for e in executions}):
            self.gallery.record_run(file_id, person, max(e.at for e in executions))
        self.set_status(202)
        self.finish({"recorded": len(executions)})

    async def _info(self, api_path: str, file_id: str) -> dict[str, Any]:
        gallery, person = self.gallery, self.person

        def info() -> dict[str, Any] | None:
            index, activity = gallery.reader_index, gallery.reader_activity
            facts = index.notebook(file_id)
            if facts is None:
                return None
            counts = activity.counts(file_id)
            health = gallery.health(file_id, index, activity)
            last_run = activity.last_run(file_id)
            return {
                "path": api_path,
                "title": facts["title"],
                "description": facts["description"],
                "owner": facts["owner"],
                "language": facts["language"],
                "packages": facts["packages"],
                "updated": iso(facts["updated"]),
                "tags": activity.tags_of(file_id),
                "stars": counts["stars"],
                "starred": activity.has_starred(file_id, person),
                "views": counts["views"],
                "runs": counts["runs"],
                "viewers": counts["viewers"],
                "health": _health(health),
                "last_run": iso(last_run) if last_run is not None else None,
            }  # fmt: skip

        found = await gallery.read(info)
        if found is None:
            raise web.HTTPError(404, f"No notebook {api_path!r} in the gallery (yet)")
        history = gallery.history  # on the loop: it reads the server's own connection
        found["versions"] = history.versions_count(file_id) if history else 0
        found["published"] = await self._readable_copies(
            api_path, history.published_copies(file_id) if history else []
        )
        origin = found["cloned_from"] = history.cloned_from(file_id) if history else None
        if origin and origin.get("file_id"):
            # The source's path only for a caller who may read it (a copy's reader may not).
            source = await gallery.read(lambda: gallery.reader_file_ids.get_path(origin["file_id"]))
            if source is not None and await is_allowed(self, "read", f"contents:{source}"):
                found["cloned_from"] = {**origin, "path": source}
        # The owner's and the publishers' names, in one look-up.
        await people_of(self.settings).add_names([found, *found["published"]], "owner", "publisher")
        return found

    async def _readable_copies(
        self, api_path: str, copies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The published copies the caller may read: a copy has its own readers (its
        publishers choose them), and a reader of the notebook is not necessarily one."""
        if not copies or await is_allowed(self, "share", f"contents:{api_path}"):
            return copies
        return [c for c in copies if await is_allowed(self, "read", f"published:{c['id']}")]


def _execution(item: Any, me: str, admin: bool) -> Execution:
    if not isinstance(item, dict):
        raise web.HTTPError(400, "Each execution is an object")
    try:
        cell_id = str(item["cell_id"])
        cell_index = int(item.get("cell_index", 0))
        hash_ = str(item.get("source_hash", ""))
        ok = item["ok"]
        at = float(item.get("at", time.time()))
        session = str(item.get("session", ""))
    except (KeyError, TypeError, ValueError):
        raise web.HTTPError(
            400,
            'An execution has "cell_id", "ok" (true/false) and optionally "cell_index", '
            '"source_hash", "session", "at" (seconds since 1970)',
        ) from None
    if not isinstance(ok, bool) or len(cell_id) > 200 or len(session) > 200:
        raise web.HTTPError(400, '"ok" is true or false; ids have at most 200 characters')
    if not (0 <= at <= time.time() + 300) or cell_index < 0:
        raise web.HTTPError(400, '"at" must not be in the future; "cell_index" from 0')
    person = str(item.get("person") or me) if admin else me
    return Execution(cell_id, cell_index, hash_, person, session, ok, at)


def _health(health: Health | None) -> dict[str, Any]:
    if health is None:
        return {"score": None, "label": "unknown", "explanation": "Not run yet.", "cells": []}
    return {
        "score": None if health.score is None else round(health.score, 4),
        "label": health.label,
        "explanation": health.explanation,
        "cells": [
            {"cell_id": c.cell_id, "index": c.index, "executions": c.executions,
             "users": c.users, "pass_rate": c.pass_rate, "label": c.label}
            for c in health.cells
        ],
    }  # fmt: skip


def _described(
    gallery: GalleryService, found: list[Recommendation], readable: Readable
) -> list[dict[str, Any]]:
    """Recommendations as result rows (tags, stars, health…) plus score, reason and kind."""
    rows = {r["path"]: r for r in gallery.reader_index.listing([f.file_id for f in found],
                                                                readable)}  # fmt: skip
    return [
        {**rows[r.path], "score": r.score, "reason": r.reason, "kind": r.kind}
        for r in found
        if r.path in rows
    ]


def gallery_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    # Imported here: the change-request handlers build on GalleryHandler above.
    from .change_handlers import change_request_handlers

    return [
        *change_request_handlers(),
        (r"/api/collab/search", SearchHandler),
        (r"/api/collab/notebooks/?", NotebookListHandler),
        (r"/api/collab/tags/?(.*)", TagsHandler),
        (r"/api/collab/stars/?(.*)", StarsHandler),
        (r"/api/collab/trending", TrendingHandler),
        (r"/api/collab/recommendations", RecommendationsHandler),
        (r"/api/collab/activity", ActivityHandler),
        (r"/api/collab/notebooks/(.+)/(info|similar|views|executions)", NotebookHandler),
    ]
