"""The server-rendered sign-in pages: sign in, confirm a sign-in link, set a password.

Plain HTML with a little script; every value put in is escaped here (``render``), and a
redirect target is always one :func:`~collab_server.auth.urls.safe_next` has validated.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import secrets
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# The sheet is built from frontend/src/signin/signin.css like the app's own.
_STYLE = '<link rel="stylesheet" href="{{static}}/signin.css?v={{version}}">'


@functools.cache
def _sheet_version() -> str:
    # Cache-busting, as for the app bundle: browsers keep the sheet until it changes.
    return hashlib.sha256((STATIC_DIR / "signin.css").read_bytes()).hexdigest()[:12]


def render(template: str, *, static: str = "/collab-static", **values: str) -> str:
    """``template`` with each ``{{name}}`` replaced by its value, HTML-escaped; ``static`` is
    where the sign-in sheet is served."""
    text = template.replace("{{style}}", _STYLE)
    values = {"static": static, "version": _sheet_version(), **values}
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", html.escape(value))
    return text


def policy(nonce: str) -> str:
    """The Content-Security-Policy of a sign-in page: its own inline script (by nonce), our
    style sheet, and nothing else; forms post only here."""
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'; frame-ancestors 'self'"
    )


def send_page(handler: Any, template: str, **values: str) -> None:
    """Finish ``handler`` with a sign-in page and its policy (a fresh nonce per response)."""
    nonce = secrets.token_urlsafe(16)
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.set_header("Content-Security-Policy", policy(nonce))
    static = url_path_join(handler.settings.get("base_url", "/"), "collab-static")
    handler.finish(render(template, static=static, nonce=nonce, **values))


def json_attr(value: str) -> str:
    """A value for a data attribute the page's script reads with ``JSON.parse``."""
    return json.dumps(value)


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · collab_server</title>
{{style}}</head><body><main>
<form id="login" data-next="{{next}}" data-api="{{api}}"><h1>Sign in to collab_server</h1>
<label for="username">User name</label>
<input id="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" type="password" autocomplete="current-password">
<button id="submit">Sign in</button><div id="error" role="alert"></div></form></main>
<script nonce="{{nonce}}">
const form = document.getElementById("login");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = document.getElementById("submit"), error = document.getElementById("error");
  button.disabled = true; button.textContent = "Signing in…"; error.textContent = "";
  try {
    const response = await fetch(JSON.parse(form.dataset.api), {
      method: "POST", headers: {"Content-Type": "application/json"}, credentials: "same-origin",
      body: JSON.stringify({username: document.getElementById("username").value,
                            password: document.getElementById("password").value})});
    if (response.ok) { location.assign(JSON.parse(form.dataset.next)); return; }
    const body = await response.json().catch(() => ({}));
    error.textContent = body.message || `Sign-in failed (${response.status})`;
  } catch (e) {
    error.textContent = "The server cannot be reached. Check your connection and try again.";
  }
  button.disabled = false; button.textContent = "Sign in";
});
</script>
</body></html>"""


CONFIRM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in? · collab_server</title>{{style}}</head><body><main>
<form method="post" action="{{action}}"><h1>Sign in as {{name}}?</h1>
<p>You followed a sign-in link from another site. It signs this browser in as
<strong>{{name}}</strong>: what you do next is done as them. Continue only if you expected it.</p>
<input type="hidden" name="_xsrf" value="{{xsrf}}">
<input type="hidden" name="token" value="{{token}}">
<input type="hidden" name="next" value="{{next}}">
<button id="confirm">Sign in as {{name}}</button>
<p><a href="{{home}}">No, take me to the home page</a></p></form></main>
</body></html>"""


SET_PASSWORD_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Set your password · collab_server</title>{{style}}</head><body><main>
<form id="setpw" data-next="{{next}}" data-api="{{api}}" data-current="{{current}}">
<h1>Set a password for {{name}}</h1>
<p id="why">{{why}}</p>
<div id="current-box"><label for="current">Current password</label>
<input id="current" type="password" autocomplete="current-password"></div>
<label for="password">New password (at least 8 characters)</label>
<input id="password" type="password" autocomplete="new-password" minlength="8" required autofocus>
<label for="repeat">Repeat it</label>
<input id="repeat" type="password" autocomplete="new-password" minlength="8" required>
<button id="submit">Set password</button><div id="error" role="alert"></div></form></main>
<script nonce="{{nonce}}">
const form = document.getElementById("setpw");
const needsCurrent = JSON.parse(form.dataset.current);
if (!needsCurrent) document.getElementById("current-box").remove();
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("error");
  const password = document.getElementById("password").value;
  if (password !== document.getElementById("repeat").value) {
    error.textContent = "The passwords differ."; return;
  }
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || "";
  const body = {new_password: password};
  if (needsCurrent) body.current_password = document.getElementById("current").value;
  const response = await fetch(JSON.parse(form.dataset.api), {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-XSRFToken": decodeURIComponent(xsrf)},
    body: JSON.stringify(body)});
  if (response.ok) { location.assign(JSON.parse(form.dataset.next)); return; }
  const reply = await response.json().catch(() => ({}));
  error.textContent = reply.message || `Could not set the password (${response.status})`;
});
</script>
</body></html>"""
