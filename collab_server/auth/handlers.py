"""REST routes for signing in and out, who-am-I, sharing and personal API tokens.

* ``GET  /login`` — the sign-in page; ``POST /api/collab/login`` ``{username, password}`` →
  ``{token, user, expires_at}`` and the browser's session cookie;
* ``POST /api/collab/logout`` (and ``GET /logout``) — ends the session;
* ``GET  /api/collab/me?path=P`` — the caller's identity and what they may do on ``P``,
  computed by the same provider calls that enforce it;
* ``GET|POST|DELETE /api/collab/shares/{path}`` — who has access; owners grant and revoke;
* ``GET|POST /api/collab/tokens``, ``DELETE /api/collab/tokens/{id}`` — personal API tokens.

Handlers stay thin: the provider decides and records. Sharing and tokens are optional provider
features (the built-in accounts provider has them); a provider without them answers 501.
"""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web

from ..api import json_object, string_field
from .jupyter import (
    clear_session_cookie,
    is_allowed,
    normalize_api_path,
    provider_of,
    public_identity,
    set_session_cookie,
    token_and_source,
    token_from_request,
)
from .provider import ACTIONS, ROLE_ACTIONS, resolve


def _feature(handler: web.RequestHandler, method: str) -> Any:
    provider = provider_of(handler)
    function = getattr(provider, method, None)
    if not callable(function):
        raise web.HTTPError(
            501, f"This server's authorization provider does not support {method.replace('_', ' ')}"
        )
    return function


def _api_path(path: str) -> str:
    api_path = normalize_api_path(path or "")
    if api_path is None:
        raise web.HTTPError(400, "A path may not contain '..'")
    return api_path


class LoginHandler(APIHandler):
    """``POST /api/collab/login``: a session token for a user name and password."""

    def check_xsrf_cookie(self) -> None:
        # Signing in needs no XSRF token: the body must be JSON, which a page on another site
        # cannot send here without a CORS preflight that this server never approves.
        if not self.request.headers.get("Content-Type", "").startswith("application/json"):
            raise web.HTTPError(400, "Send the user name and password as application/json")

    _retry_after: int | None = None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self._retry_after is not None:  # send_error cleared the headers: set it here
            self.set_header("Retry-After", str(self._retry_after))
        super().write_error(status_code, **kwargs)

    async def prepare(self) -> None:  # type: ignore[override]
        # No identity is needed (or wanted: a stale cookie must not stop a new login), but
        # jupyter_server's Host check (DNS-rebinding protection) still applies.
        if not self.check_host():
            raise web.HTTPError(403, "Host not allowed")
        self._jupyter_current_user = None

    async def post(self) -> None:
        self.check_xsrf_cookie()
        body = json_object(self)
        username = string_field(body, "username", max_length=200).strip().lower()
        password = string_field(body, "password", max_length=1000)
        login = _feature(self, "login")
        from .accounts import AccountError, TooManyAttempts

        try:
            # scrypt takes ~50 ms of CPU and 16 MiB: never on the event loop.
            token, record = await asyncio.get_running_loop().run_in_executor(
                None, login, username, password
            )
        except TooManyAttempts as e:
            self._retry_after = e.retry_after
            raise web.HTTPError(429, str(e)) from e
        except AccountError as e:
            raise web.HTTPError(401, str(e)) from e
        provider = provider_of(self)
        lifetime = getattr(provider, "session_lifetime", 14 * 24 * 3600)
        set_session_cookie(self, token, days=lifetime / 86400)
        identity = await resolve(provider.identity(token)) if hasattr(provider, "identity") else {}
        self.finish(
            {
                "token": token,
                "expires_at": record.get("expires_at"),
                "user": {"username": username, **(identity or {})},
            }
        )


class LogoutHandler(APIHandler):
    """``POST /api/collab/logout``: revoke this session and clear the cookie."""

    async def post(self) -> None:
        await _logout(self)
        self.finish({"signed_out": True})


class LogoutPageHandler(JupyterHandler):
    """``GET /logout``: sign out, then show the sign-in page."""

    async def get(self) -> None:
        await _logout(self)
        self.redirect(url_path_join(self.base_url, "login"))


async def _logout(handler: web.RequestHandler) -> None:
    token, source = token_and_source(handler)
    logout = getattr(provider_of(handler), "logout", None)
    if token and source == "cookie" and callable(logout):
        await resolve(logout(token))
    clear_session_cookie(handler)


class LoginPageHandler(JupyterHandler):
    """``GET /login``: a plain sign-in form (the web front end restyles it)."""

    async def get(self) -> None:
        next_url = self.get_query_argument("next", "") or self.base_url
        if not next_url.startswith("/") or next_url.startswith("//"):
            next_url = self.base_url  # never redirect to another site after signing in
        self.xsrf_token  # noqa: B018 - sets the _xsrf cookie the page's scripts send back
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_LOGIN_PAGE.replace("{{next}}", html.escape(json.dumps(next_url))).replace(
            "{{api}}", html.escape(json.dumps(url_path_join(self.base_url, "api/collab/login")))
        ))  # fmt: skip


class MeHandler(APIHandler):
    """``GET /api/collab/me?path=P``: identity, permissions on P, and what is shared with me."""

    @web.authenticated
    async def get(self) -> None:
        path = _api_path(self.get_query_argument("path", ""))
        user = self.current_user
        permissions = {
            action: await is_allowed(self, action, f"contents:{path}") for action in ACTIONS
        }
        provider = provider_of(self)
        shared: list[Any] = []
        shared_with = getattr(provider, "shared_with", None)
        if callable(shared_with):
            shared = await resolve(shared_with(token_from_request(self)))
        self.finish(
            {
                "identity": public_identity(user),
                "path": path,
                "permissions": permissions,
                "server_admin": await is_allowed(self, "admin", "server"),
                "shared_with_me": shared,
            }
        )


class SharesHandler(APIHandler):
    """``/api/collab/shares/{path}``: list, grant and revoke access to a file or folder."""

    async def _resource(self, path: str, action: str, refusal: str) -> str:
        if self.current_user is None:
            raise web.HTTPError(401, "Sign in first")
        api_path = _api_path(path)
        if not await is_allowed(self, action, f"contents:{api_path}"):
            raise web.HTTPError(403, refusal)
        if not await ensure_async(self.contents_manager.exists(api_path)):
            raise web.HTTPError(404, f"No file or folder {api_path!r}")
        return api_path

    async def get(self, path: str) -> None:
        api_path = await self._resource(path, "read", "You may not see this file")
        shares = await resolve(_feature(self, "list_shares")(api_path))
        for share in shares:
            share["inherited"] = share["path"] != api_path
        self.finish({"path": api_path, "shares": shares})

    async def post(self, path: str) -> None:
        api_path = await self._resource(path, "share", "Only owners may share this file")
        body = json_object(self)
        principal = string_field(body, "principal", max_length=200)
        role = string_field(body, "role", max_length=20)
        if role not in ROLE_ACTIONS:
            raise web.HTTPError(400, f"Unknown role {role!r}; use one of {', '.join(ROLE_ACTIONS)}")
        # Nobody grants more than they hold.
        if not await is_allowed(self, ROLE_ACTIONS[role], f"contents:{api_path}"):
            raise web.HTTPError(403, f"You cannot grant {role}: you do not hold it")
        add_share = _feature(self, "add_share")
        try:
            await resolve(add_share(api_path, principal, role, self.current_user.username))
        except LookupError as e:
            raise web.HTTPError(404, str(e.args[0])) from e
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from e
        self.log.info("%s shared %s with %s as %s", self.current_user.username, api_path,
                      principal, role)  # fmt: skip
        self.set_status(201)
        self.finish(
            {"path": api_path, "shares": await resolve(_feature(self, "list_shares")(api_path))}
        )

    async def delete(self, path: str) -> None:
        api_path = await self._resource(path, "share", "Only owners may change who has access")
        principal = self.get_query_argument("principal", "")
        if not principal:
            raise web.HTTPError(400, "Say whose access to remove: ?principal=user:NAME")
        share_role = getattr(provider_of(self), "share_role", None)
        role = await resolve(share_role(api_path, principal)) if callable(share_role) else None
        if role in ROLE_ACTIONS and not await is_allowed(
            self, ROLE_ACTIONS[role], f"contents:{api_path}"
        ):
            raise web.HTTPError(403, f"You cannot remove a {role}: you do not hold that role")
        removed = await resolve(_feature(self, "remove_share")(api_path, principal))
        if not removed:
            raise web.HTTPError(
                404,
                f"{principal} has no access granted on {api_path!r} itself (check folders above)",
            )
        self.log.info("%s removed %s from %s", self.current_user.username, principal, api_path)
        self.set_status(204)
        self.finish()


class TokensHandler(APIHandler):
    """``GET|POST /api/collab/tokens``: the caller's personal API tokens."""

    @web.authenticated
    async def get(self) -> None:
        tokens = await resolve(_feature(self, "list_tokens")(token_from_request(self)))
        self.finish({"tokens": tokens})

    @web.authenticated
    async def post(self) -> None:
        body = json_object(self)
        label = string_field(body, "label", required=False, max_length=100)
        days = body.get("expires_in_days")
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 3650
        ):
            raise web.HTTPError(400, '"expires_in_days" must be a number of days from 1 to 3650')
        create = _feature(self, "create_token")
        from .accounts import AccountError

        try:
            token, record = await resolve(
                create(token_from_request(self), label, days * 86400 if days else None)
            )
        except AccountError as e:
            raise web.HTTPError(403, str(e)) from e
        self.set_status(201)
        # The only time the token is shown: only its hash is kept.
        self.finish({"token": token, **record})


class TokenHandler(APIHandler):
    """``DELETE /api/collab/tokens/{id}``: revoke one of the caller's tokens."""

    @web.authenticated
    async def delete(self, token_id: str) -> None:
        revoked = await resolve(_feature(self, "revoke_token")(token_from_request(self), token_id))
        if not revoked:
            raise web.HTTPError(404, "You have no token with this id")
        self.set_status(204)
        self.finish()


def auth_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    return [
        (r"/login", LoginPageHandler),
        (r"/logout", LogoutPageHandler),
        (r"/api/collab/login", LoginHandler),
        (r"/api/collab/logout", LogoutHandler),
        (r"/api/collab/me", MeHandler),
        (r"/api/collab/shares/?(.*)", SharesHandler),
        (r"/api/collab/tokens/?", TokensHandler),
        (r"/api/collab/tokens/([^/]+)", TokenHandler),
    ]


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · collab_server</title>
<style>
 body{font:16px system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;
      background:#f5f6f8;color:#1d1f23}
 form{background:#fff;padding:2rem;border-radius:10px;box-shadow:0 2px 12px #0002;
      width:min(22rem,90vw)}
 h1{font-size:1.3rem;margin:0 0 1rem} label{display:block;margin:.8rem 0 .3rem}
 input{width:100%;box-sizing:border-box;padding:.55rem;font:inherit;border:1px solid #bbb;
       border-radius:6px}
 button{margin-top:1.2rem;width:100%;padding:.6rem;font:inherit;border:0;border-radius:6px;
        background:#2f6fdf;color:#fff;cursor:pointer} button:disabled{opacity:.6}
 #error{color:#b00020;min-height:1.2em;margin-top:.8rem}
</style></head><body>
<form id="login" data-next="{{next}}" data-api="{{api}}"><h1>Sign in to collab_server</h1>
<label for="username">User name</label>
<input id="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" type="password" autocomplete="current-password" required>
<button id="submit">Sign in</button><div id="error" role="alert"></div></form>
<script>
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
