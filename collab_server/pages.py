"""The web page: ``/`` (the notebook browser), ``/notebooks/{path}`` (the editor),
``/settings`` (your account and API tokens), ``/admin`` (users and groups, for
administrators: the page asks ``/api/collab/admin/…``, which refuses anyone else), and the
output frame that notebook HTML outputs run in.

Both pages are the same small HTML shell around the bundle built from ``frontend/`` into
``collab_server/static/`` (committed, so a fresh clone serves a working page without npm; CI
rebuilds it and fails if it differs). Signing in is ``/login`` (``auth/handlers.py``); an
anonymous visitor is sent there by ``@web.authenticated``.

Security headers: the pages carry a Content-Security-Policy that allows only our own scripts
(a Markdown cell or a comment that slipped past the sanitizer still cannot run code), our own
sockets and forms, and frames from ourselves. Notebook HTML outputs cannot live under that
policy (a ``srcdoc`` frame inherits it, and outputs carry inline scripts), so they run in
``/collab-output-frame``: a fixed page served with its own policy whose ``sandbox`` directive
makes it an opaque origin even when opened directly (no cookie, no storage, no same-origin
access to the API); the editor posts the output's HTML into it.
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

#: The most an output frame may ask to grow to (CSS pixels); the page clamps it too.
OUTPUT_FRAME_MAX_HEIGHT = 4000


@cache
def _version(name: str) -> str:
    # Cache-busting: browsers keep the bundle until its content changes.
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def page_policy(host: str) -> str:
    """The Content-Security-Policy of our pages (``host`` is the request's Host, for sockets)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # CodeMirror injects <style> elements; no page script is inline.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            # Notebook HTML outputs: the sandboxed output frame, served by us.
            "frame-src 'self'",
            # 'self' covers same-host sockets in CSP3 browsers; older ones need the schemes.
            f"connect-src 'self' ws://{host} wss://{host}",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'self'",
        ]
    )


# Notebook outputs bring their own scripts, styles, images and fonts (often from CDNs); the
# sandbox (no allow-same-origin) is what keeps them away from the page, the cookie and the API.
OUTPUT_FRAME_POLICY = "; ".join(
    [
        "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox",
        "default-src * data: blob: 'unsafe-inline' 'unsafe-eval'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    ]
)

# How outputs look in the frame: Jupyter's look for HTML tables (pandas DataFrames): a rule
# under the header, padded cells, numbers right-aligned, striped rows. The output sits in a box
# that scrolls sideways, so a wide table stays readable on a phone (its scroll bar is inside
# the box, so the height the frame reports includes it). Inline, as the policy allows already.
OUTPUT_FRAME_STYLE = (
    "html,body{margin:0}body{padding:4px;font:14px system-ui,sans-serif}"
    "#collab-output{overflow-x:auto}"
    "table{border-collapse:collapse;border-spacing:0;border:none;font-size:13px;margin:0 0 .5em}"
    "th,td{padding:.3em .6em;text-align:right;vertical-align:middle;border:none;"
    "border-bottom:1px solid #e1e4e8;white-space:nowrap}"
    "thead th{border-bottom:1px solid #6e7781;vertical-align:bottom}"
    "th{font-weight:600}"
    "tbody tr:nth-child(even){background:#f5f6f8}"
    "tbody tr:hover{background:#e6ecf8}"
)

# The output frame: waits for one message from the page that embeds it, writes that HTML as
# its document, then reports its height to the page whenever it changes.
OUTPUT_FRAME = f"""<!doctype html><html><head><meta charset="utf-8">
<style>html,body{{margin:0;padding:0}}body{{padding:4px;font:14px system-ui,sans-serif}}</style>
</head><body><script>
addEventListener("message", function once(event) {{
  if (event.source !== parent || !event.data || typeof event.data.html !== "string") return;
  removeEventListener("message", once);
  var report = "<script>(function () {{" +
    "var last = 0; function post() {{ var h = Math.min({OUTPUT_FRAME_MAX_HEIGHT}," +
    " Math.ceil(document.documentElement.scrollHeight)); if (h !== last) {{ last = h;" +
    " parent.postMessage({{ collabOutputHeight: h }}, '*'); }} }}" +
    "if (window.ResizeObserver) new ResizeObserver(post).observe(document.documentElement);" +
    "addEventListener('load', post); setTimeout(post, 0); setTimeout(post, 500); }})();<\\/script>";
  document.open();
  var head = '<!doctype html><html><head><meta charset="utf-8">' +
    '<style>{OUTPUT_FRAME_STYLE}</style></head><body><div id="collab-output">';
  document.write(head + event.data.html + "</div>" + report);
  document.close();
}});
</script></body></html>"""


class PageHandler(JupyterHandler):
    """The HTML shell of every page of the web front end."""

    @property
    def content_security_policy(self) -> str:
        configured = self.settings.get("headers", {}).get("Content-Security-Policy")
        return str(configured) if configured else page_policy(self.request.host)

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
        self.set_header("Referrer-Policy", "same-origin")
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


class OutputFrameHandler(JupyterHandler):
    """The sandboxed page notebook HTML outputs run in (no sign-in needed: it is a fixed page
    with no data; what it shows, the embedding page posts into it)."""

    @property
    def content_security_policy(self) -> str:
        return OUTPUT_FRAME_POLICY

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "public, max-age=3600")
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(OUTPUT_FRAME)


def page_handlers() -> list[tuple[Any, ...]]:
    return [
        (r"/", PageHandler),
        (r"/notebooks/(.*)", PageHandler),
        (r"/settings", PageHandler),
        (r"/gallery", PageHandler),
        (r"/admin", PageHandler),
        (r"/published/(.*)", PageHandler),
        (r"/collab-output-frame", OutputFrameHandler),
        (r"/collab-static/(.*)", web.StaticFileHandler, {"path": str(STATIC_DIR)}),
    ]
