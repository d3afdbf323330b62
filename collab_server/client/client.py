"""``Client``: the server's data as pandas DataFrames, through the REST API.

nbgallery-python's role for this server, with one difference that matters: it reads the
database through the API, as the person whose token it holds, so every permission holds
(nothing unreadable is listed, counted or named). Listings are paged here; each DataFrame
has fixed, typed columns (:mod:`.frames`), also when empty.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import nbformat

from . import analysis
from .errors import ClientError, RunFailed
from .frames import Kind, frame
from .transport import Transport, api_path

PAGE = 100  # the gallery's largest page

NOTEBOOK_COLUMNS: dict[str, Kind] = {
    "path": "str", "title": "str", "owner": "str", "owner_name": "str", "tags": "object",
    "stars": "int", "views": "int", "runs": "int", "health": "float", "health_label": "str",
    "language": "str", "last_run": "time", "updated": "time",
}  # fmt: skip
SEARCH_COLUMNS: dict[str, Kind] = {
    "path": "str", "title": "str", "snippet": "str", "owner": "str", "owner_name": "str",
    "tags": "object", "stars": "int", "health": "float", "updated": "time",
}  # fmt: skip
COMMENT_COLUMNS: dict[str, Kind] = {
    "path": "str", "thread": "str", "target_type": "str", "cell": "str", "anchor": "str",
    "status": "str", "comment": "str", "author": "str", "author_name": "str",
    "verified": "bool", "body": "str", "deleted": "bool", "created": "time", "edited": "time",
}  # fmt: skip
EXECUTION_COLUMNS: dict[str, Kind] = {
    "id": "int", "path": "str", "cell": "str", "source_sha256": "str", "person": "str",
    "kernel": "str", "queued": "time", "started": "time", "ended": "time", "status": "str",
    "ename": "str", "execution_count": "int",
}  # fmt: skip
VERSION_COLUMNS: dict[str, Kind] = {
    "path": "str", "id": "str", "created": "time", "kind": "str", "label": "str",
    "authors": "object", "parent": "str", "size": "int",
}  # fmt: skip
RUN_COLUMNS: dict[str, Kind] = {
    "id": "str", "app": "str", "status": "str", "user": "str", "user_name": "str",
    "version": "str", "parameters": "object", "created": "time", "started": "time",
    "ended": "time", "result": "object", "error": "str", "mine": "bool",
}  # fmt: skip
APP_COLUMNS: dict[str, Kind] = {
    "id": "str", "title": "str", "description": "str", "version": "int", "published": "time",
    "publisher": "str", "publisher_name": "str", "may_run": "bool", "inputs": "int",
    "path": "str",
}  # fmt: skip
CHANGE_REQUEST_COLUMNS: dict[str, Kind] = {
    "id": "int", "path": "str", "status": "str", "message": "str", "source": "str",
    "proposer": "str", "proposer_name": "str", "created": "time", "decided": "time",
    "decided_by": "str", "comment": "str", "version": "str",
}  # fmt: skip
ACTIVITY_COLUMNS: dict[str, Kind] = {
    "day": "time", "path": "str", "person": "str", "person_name": "str", "views": "int",
    "runs": "int",
}  # fmt: skip

FINISHED = ("succeeded", "failed", "timed_out")


def _when(value: str | date | datetime | None) -> str | None:
    """A time argument as the ISO-8601 text the server reads (pandas Timestamps too)."""
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


class Client:
    """The server's data, as the holder of ``token`` may see it.

    ``Client()`` inside a kernel the server started needs no arguments when the kernel's
    environment has a token (``COLLAB_SERVER_TOKEN``, or ``JUPYTER_AUTH_TOKEN`` from the
    operator's provider); ``COLLAB_SERVER_URL`` is put there by the server. Elsewhere pass
    ``url`` and ``token`` or set those variables. ``timeout`` bounds each request,
    ``run_timeout`` an app run (:meth:`run_app`); ``verify`` is httpx's (a CA bundle path for a
    server with its own certificate).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        run_timeout: float = 600.0,
        verify: bool | str = True,
    ) -> None:
        self._api = Transport(url, token, timeout, verify)
        self.url = self._api.url
        self.run_timeout = run_timeout

    def __repr__(self) -> str:
        return f"Client(url={self.url!r}, token={'***' if self._api.has_token else None})"

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- notebooks --------------------------------------------------------------------------

    def _search_results(self, q: str) -> Iterator[dict[str, Any]]:
        return self._api.pages("api/collab/search", "results", "offset", q=q, limit=PAGE, offset=0)

    def _readable_paths(self) -> list[str]:
        return [r["path"] for r in self._search_results("")]

    def search(self, q: str) -> Any:
        """Every notebook the gallery's search finds for ``q`` (its query language:
        ``tag:x owner:name lang:python updated:>2026-01-01``, phrases, AND/OR/NOT), best first."""
        rows = []
        for r in self._search_results(q):
            snippet = r.get("snippet") or []
            text = "".join(s.get("text", "") for s in snippet if isinstance(s, dict))
            rows.append({**r, "snippet": text})
        return frame(rows, SEARCH_COLUMNS)

    def info(self, path: str) -> dict[str, Any]:
        """The gallery's facts about one notebook (title, tags, stars, views, runs, health…)."""
        return dict(self._api.get(f"api/collab/notebooks/{api_path(path)}/info"))

    def notebooks(self) -> Any:
        """One row per notebook you may read, most recently updated first (the gallery's
        bulk listing: one request per 1000 notebooks)."""
        try:
            rows = list(
                self._api.pages("api/collab/notebooks", "notebooks", "offset", limit=1000, offset=0)
            )
        except ClientError as e:
            if not e.route_missing:
                raise
            return self._notebooks_one_by_one()  # a server from before the bulk listing
        return frame(rows, NOTEBOOK_COLUMNS)

    def _notebooks_one_by_one(self) -> Any:
        rows = []
        for r in self._search_results(""):
            try:
                info = self.info(r["path"])
            except (FileNotFoundError, PermissionError):
                continue  # gone or withdrawn since the listing
            health = info.get("health") or {}
            rows.append({**r, **info, "health": health.get("score"),
                         "health_label": health.get("label")})  # fmt: skip
        return frame(rows, NOTEBOOK_COLUMNS)

    def notebook(self, path: str, version: str | None = None) -> nbformat.NotebookNode:
        """The notebook at ``path`` (now, or as it was at ``version``)."""
        if version is None:
            model = self._api.get(f"api/contents/{api_path(path)}", type="notebook", content=1)
            content = model["content"]
        else:
            content = self._versions_api(
                lambda: self._api.get(f"api/collab/versions/{api_path(path)}/{version}")
            )
        return nbformat.from_dict(content)

    # ---- comments ---------------------------------------------------------------------------

    def comments(self, path: str | None = None, status: str = "open") -> Any:
        """One row per comment (a thread's first comment and its replies), of one notebook or
        of every notebook you may read; ``status`` is ``open``, ``resolved`` or ``all``."""
        if path is None:
            threads = self._api.get("api/collab/comments", status=status)["threads"]
        else:
            found = self._api.get(f"api/collab/comments/{api_path(path)}", status=status)
            threads = [{"path": path.strip("/"), **t} for t in found["threads"]]
        rows = []
        for thread in threads:
            target = thread.get("target") or {}
            for c in thread.get("comments") or []:
                author = c.get("author") or {}
                rows.append({
                    "path": thread.get("path"), "thread": thread.get("id"),
                    "target_type": target.get("type"), "cell": target.get("cellId"),
                    "anchor": thread.get("anchor"), "status": thread.get("status"),
                    "comment": c.get("id"), "author": author.get("id"),
                    "author_name": author.get("name"), "verified": author.get("verified"),
                    "body": c.get("body"), "deleted": c.get("deleted"),
                    "created": c.get("createdAt"), "edited": c.get("editedAt"),
                })  # fmt: skip
        return frame(rows, COMMENT_COLUMNS)

    def change_requests(self, path: str, status: str = "open") -> Any:
        """Change requests on a notebook: everyone's if you may edit it, else your own;
        ``status`` is ``open``, ``accepted``, ``declined``, ``cancelled`` or ``all``."""
        found = self._api.get(f"api/collab/notebooks/{api_path(path)}/change-requests",
                              status=status)  # fmt: skip
        rows = []
        for request in found.get("change_requests") or []:
            proposer = request.get("proposer") or {}
            decided_by = request.get("decided_by") or {}
            rows.append({**request, "proposer": proposer.get("id"),
                         "proposer_name": proposer.get("name"),
                         "decided_by": decided_by.get("id")})  # fmt: skip
        return frame(rows, CHANGE_REQUEST_COLUMNS)

    def propose(
        self,
        path: str,
        message: str,
        *,
        copy: str | None = None,
        notebook: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Propose a change to ``path`` (which you may read, not necessarily edit): the
        content of your ``copy`` of it, or a ``notebook`` (nbformat dict); returns the
        request. People who may edit the notebook accept or decline it."""
        if (copy is None) == (notebook is None):
            raise ValueError("propose() takes either copy= or notebook=")
        body: dict[str, Any] = {"message": message}
        if copy is not None:
            body["from"] = copy.strip("/")
        else:
            body["notebook"] = notebook
        url = f"api/collab/notebooks/{api_path(path)}/change-requests"
        return dict(self._api.json("POST", url, body=body))

    def comment(
        self, path: str, body: str, target: dict[str, Any] | str | None = None
    ) -> dict[str, Any]:
        """Start a thread on the notebook (``target`` None), a cell (its id) or any target
        the API takes (a dict); returns the thread."""
        if target is None:
            target = {"type": "notebook"}
        elif isinstance(target, str):
            target = {"type": "cell", "cellId": target}
        return dict(
            self._api.json(
                "POST", f"api/collab/comments/{api_path(path)}",
                body={"target": target, "body": body},
            )
        )  # fmt: skip

    # ---- tags and stars ---------------------------------------------------------------------

    def tag(self, path: str, tag: str) -> list[str]:
        """Tag a notebook (needs ``write``); returns its tags."""
        found = self._api.json("PUT", f"api/collab/tags/{api_path(path)}", body={"tag": tag})
        return list(found["tags"])

    def star(self, path: str) -> int:
        """Star a notebook; returns how many people starred it."""
        return int(self._api.json("PUT", f"api/collab/stars/{api_path(path)}")["stars"])

    # ---- executions and activity ------------------------------------------------------------

    def executions(
        self, path: str | None = None, since: str | date | datetime | None = None
    ) -> Any:
        """The execution log (one row per cell run, newest first) of one notebook or of
        every notebook you may read, from ``since`` on."""
        pd_since = None
        if since is not None:
            from .frames import pandas

            pd_since = pandas().Timestamp(_when(since))
            # A time without a zone is UTC, as every time the server gives.
            if pd_since.tzinfo is None:
                pd_since = pd_since.tz_localize("UTC")
            pd_since = pd_since.tz_convert("UTC")
        rows: list[dict[str, Any]] = []
        for one in [path] if path is not None else self._readable_paths():
            log = self._api.pages(
                "api/collab/executions", "executions", "before", path=one, limit=1000
            )
            for r in log:
                if pd_since is not None and r.get("ended_at") and r["ended_at"] < _iso(pd_since):
                    break  # newest first: the rest are older
                rows.append({
                    "id": r.get("id"), "path": r.get("path"), "cell": r.get("cell_id"),
                    "source_sha256": r.get("source_sha256"), "person": r.get("who"),
                    "kernel": r.get("kernel_id"), "queued": r.get("queued_at"),
                    "started": r.get("started_at"), "ended": r.get("ended_at"),
                    "status": r.get("status"), "ename": r.get("ename"),
                    "execution_count": r.get("execution_count"),
                })  # fmt: skip
        return frame(rows, EXECUTION_COLUMNS)

    def activity(self, since: str | date | datetime | None = None, path: str | None = None) -> Any:
        """Views and runs per person, notebook and UTC day (an administrator sees everyone's,
        anyone else their own), on notebooks you may read."""
        rows = self._api.pages(
            "api/collab/activity", "activity", "offset",
            since=_when(since), path=path, limit=10_000, offset=0,
        )  # fmt: skip
        return frame(rows, ACTIVITY_COLUMNS)

    # ---- versions and apps (DESIGN sections 10 and 12) ---------------------------------------

    @staticmethod
    def _feature_api(what: str, call: Any) -> Any:
        """``call()``; a server without ``what``'s routes (an older one) says so plainly."""
        try:
            return call()
        except ClientError as e:
            if e.route_missing:
                raise ClientError(f"this server has no {what} API yet", 404) from None
            raise

    def _versions_api(self, call: Any) -> Any:
        return self._feature_api("versions", call)

    def versions(self, path: str) -> Any:
        """The notebook's versions, newest first."""
        found = self._versions_api(
            lambda: list(
                self._api.pages(f"api/collab/versions/{api_path(path)}", "versions", "before",
                                limit=PAGE)
            )
        )  # fmt: skip
        rows = [
            {**v, "path": path.strip("/"),
             "authors": [a.get("name") or a.get("id") for a in v.get("authors") or []]}
            for v in found
        ]  # fmt: skip
        return frame(rows, VERSION_COLUMNS)

    def _apps_api(self, call: Any) -> Any:
        return self._feature_api("apps", call)

    def apps(self) -> Any:
        """The apps you may see, newest first: ``may_run`` says whether you may run one;
        ``path`` is the notebook it was published from when you may read that notebook (the
        newest 500)."""
        found = self._apps_api(lambda: self._api.get("api/collab/apps", limit=500))
        return frame(found.get("apps", []), APP_COLUMNS)

    def runs(self, app: str | None = None, mine: bool = False, shared: bool = False) -> Any:
        """Your app runs (of one app with ``app``); with ``shared=True``, other people's runs
        they shared with you instead. (``mine`` is accepted for DESIGN's signature: nobody
        lists another person's runs unasked.)"""
        params = {"app": app, "mine": 1 if mine else None, "shared": 1 if shared else None}
        found = self._apps_api(lambda: self._api.get("api/collab/runs", **params))
        runs = found.get("runs", []) if isinstance(found, dict) else found
        return frame([{"app": app, **r} for r in runs], RUN_COLUMNS)

    def run_app(self, id: str, /, **parameters: Any) -> Any:
        """Run the published app ``id`` with ``parameters`` as yourself; returns its result
        (the output of the cell tagged ``result``). Raises :class:`RunFailed` if the run
        failed or timed out, :class:`TimeoutError` after ``run_timeout`` seconds."""
        deadline = time.monotonic() + self.run_timeout
        wait = int(min(30.0, self.run_timeout))
        run = self._apps_api(
            lambda: self._api.json(
                "POST", f"api/collab/apps/{api_path(id)}/runs", params={"wait": wait},
                body={"parameters": parameters},
            )
        )  # fmt: skip
        delay = 0.2
        while run.get("status") not in FINISHED:
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run.get('id')} did not finish in {self.run_timeout} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
            url = f"api/collab/runs/{run['id']}"
            run = self._apps_api(lambda url=url: self._api.get(url))
        if run["status"] != "succeeded":
            error = run.get("error") or ""
            raise RunFailed(f"run {run.get('id')} {run['status']}: {error}", run)
        return run.get("result")

    # ---- content analysis -------------------------------------------------------------------

    code_sources = staticmethod(analysis.code_sources)
    markdown_sources = staticmethod(analysis.markdown_sources)
    packages = staticmethod(analysis.packages)


def _iso(moment: Any) -> str:
    """A UTC Timestamp as the execution log writes times (sorts as text)."""
    return str(moment.strftime("%Y-%m-%dT%H:%M:%S.")) + f"{moment.microsecond // 1000:03d}Z"
