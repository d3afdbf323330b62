"""The web page: ``/`` (the notebook browser) and ``/notebooks/{path}`` (the editor).

Both are the same small HTML shell around the bundle built from ``frontend/`` into
``collab_server/static/`` (committed, so a fresh clone serves a working page without npm; CI
rebuilds it and fails if it differs). Signing in is ``/login`` (``auth/handlers.py``); an
anonymous visitor is sent there by ``@web.authenticated``.
"""

from __future__ import annotations

import hashlib
import html
from functools import cache
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

STATIC_DIR = Path(__file__).parent / "static"


@cache
def _version(name: str) -> str:
    # Cache-busting: browsers keep the bundle until its content changes.
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


class PageHandler(JupyterHandler):
    """The HTML shell of every page of the web front end."""

    @web.authenticated
    def get(self, path: str = "") -> None:
        if self.get_query_argument("token", ""):
            # The token signed the browser in (a session cookie); keep it out of the address
            # bar, the history and any Referer header.
            self.redirect(self.request.path)
            return
        self.xsrf_token  # noqa: B018 - sets the _xsrf cookie the page's requests send back
        static = url_path_join(self.base_url, "collab-static")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>collab_server</title>"
            f'<link rel="stylesheet" href="{static}/app.css?v={_version("app.css")}">'
            f'</head><body data-base-url="{html.escape(self.base_url)}"><div id="app">'
            '<p class="notice">Loading…</p></div>'
            f'<script type="module" src="{static}/app.js?v={_version("app.js")}"></script>'
            "</body></html>"
        )


def page_handlers() -> list[tuple[Any, ...]]:
    return [
        (r"/", PageHandler),
        (r"/notebooks/(.*)", PageHandler),
        (r"/collab-static/(.*)", web.StaticFileHandler, {"path": str(STATIC_DIR)}),
    ]
