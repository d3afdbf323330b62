"""REST routes for signing in and out, who-am-I, sharing and personal API tokens.

* ``GET  /login?next=P`` — the sign-in page; ``POST /api/collab/login`` ``{username, password}``
  → ``{token, user, expires_at}`` and the browser's session cookie;
* ``POST /login/confirm`` — the confirmation form for a ``?token=`` sign-in link followed
  from another site (see ``jupyter.py``);
* ``GET  /set-password`` and ``POST /api/collab/password`` ``{new_password,
  current_password?}`` — a signed-in person sets their password (every other session and
  token of theirs is revoked);
* ``POST /api/collab/logout`` (and ``GET /logout``) — ends the session;
* ``GET  /api/collab/me?path=P`` — the caller's identity and what they may do on ``P``,
  computed by the same provider calls that enforce it;
* ``GET|POST|DELETE /api/collab/shares/{path}`` — who has access (owners only: listing needs
  ``share`` on that path); owners grant and revoke;
* ``GET|POST /api/collab/tokens``, ``DELETE /api/collab/tokens/{id}`` — personal API tokens.

Handlers stay thin: the provider decides and records. Sharing, tokens and sessions are
optional provider capabilities (``collab_server.auth``); a provider without one answers 501.
Every redirect target taken from the request goes through :func:`safe_next`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web

from ..core.errors import Forbidden, Invalid, NotFound, NotSupportedByProvider, Unauthenticated
from ..core.http import CollabHandlerMixin, json_object, string_field
from ..core.paths import normalize
from .jupyter import (
    clear_session_cookie,
    is_allowed,
    provider_of,
    public_identity,
    set_session_cookie,
    token_and_source,
    token_from_request,
)
from .provider import (
    ACTIONS,
    ROLE_ACTIONS,
    AccessReport,
    GroupAdmin,
    Identity,
    Passwords,
    Sessions,
    SharedWith,
    Sharing,
    SignInLinks,
    TokenAdmin,
    Tokens,
    UserAdmin,
    capability,
    legacy_errors,
    resolve,
)
from .signin_pages import LOGIN_PAGE, SET_PASSWORD_PAGE, json_attr, send_page
from .urls import safe_next

C = TypeVar("C")

_WHAT: dict[Any, str] = {
    Sharing: "sharing",
    Tokens: "personal API tokens",
    Sessions: "signing in with a password",
    Passwords: "setting passwords",
    UserAdmin: "managing users",
    GroupAdmin: "groups",
    AccessReport: "reports of who has access",
    TokenAdmin: "managing other people's tokens",
}


def require_capability(handler: web.RequestHandler, wanted: Callable[..., C]) -> C:
    found = capability(provider_of(handler), wanted)
    if found is None:
        what = _WHAT.get(wanted, getattr(wanted, "__name__", "this"))
        raise NotSupportedByProvider(
            f"This server's authorization provider does not support {what}"
        )
    return found


async def off_loop(function: Any, *args: Any) -> Any:
    """Run a provider call that may block (password hashing, database writes that may wait
    for a lock held by another process) off the event loop; await what an async provider
    returns. Its errors propagate (``Busy`` → 503, through :class:`CollabHandlerMixin`)."""
    return await resolve(await asyncio.get_running_loop().run_in_executor(None, function, *args))


def api_path_of(path: str) -> str:
    api_path = normalize(path or "")
    if api_path is None:
        raise Invalid("A path may not contain '..'")
    return api_path


class LoginHandler(CollabHandlerMixin, APIHandler):
    """``POST /api/collab/login``: a session token for a user name and password."""

    def check_xsrf_cookie(self) -> None:
        # Signing in needs no XSRF token: the body must be JSON, which a page on another site
        # cannot send here without a CORS preflight that this server never approves.
        if not self.request.headers.get("Content-Type", "").startswith("application/json"):
            raise Invalid("Send the user name and password as application/json")

    async def prepare(self) -> None:  # type: ignore[override]
        # No identity is needed (or wanted: a stale cookie must not stop a new login), but
        # jupyter_server's Host check (DNS-rebinding protection) still applies.
        if not self.check_host():
            raise Forbidden("Host not allowed")
        self._jupyter_current_user = None

    async def post(self) -> None:
        self.check_xsrf_cookie()
        body = json_object(self)
        username = string_field(body, "username", max_length=200).strip().lower()
        password = string_field(body, "password", max_length=1000)
        sessions = require_capability(self, Sessions)
        # scrypt takes ~50 ms of CPU and 16 MiB: never on the event loop. The attempt is
        # counted (per name and per address) before the check, inside login; a refusal
        # (401, or 429 with Retry-After) propagates to the error mapping.
        token, record = await asyncio.get_running_loop().run_in_executor(
            None, sessions.login, username, password, self.request.remote_ip or ""
        )
        set_session_cookie(self, token, days=sessions.session_lifetime / 86400)
        identity_provider = capability(provider_of(self), Identity)
        identity = await resolve(identity_provider.identity(token)) if identity_provider else {}
        self.finish(
            {
                "token": token,
                "expires_at": record.get("expires_at"),
                "user": {"username": username, **(identity or {})},
            }
        )


class LogoutHandler(CollabHandlerMixin, APIHandler):
    """``POST /api/collab/logout``: revoke this session and clear the cookie."""

    async def post(self) -> None:
        await _logout(self)
        self.finish({"signed_out": True})


class LogoutPageHandler(CollabHandlerMixin, JupyterHandler):
    """``GET /logout``: sign out, then show the sign-in page."""

    async def get(self) -> None:
        await _logout(self)
        self.redirect(url_path_join(self.base_url, "login"))


async def _logout(handler: web.RequestHandler) -> None:
    token, source = token_and_source(handler)
    sessions = capability(provider_of(handler), Sessions)
    if token and source == "cookie" and sessions is not None:
        await off_loop(sessions.logout, token)
    clear_session_cookie(handler)


class LoginPageHandler(CollabHandlerMixin, JupyterHandler):
    """``GET /login``: a plain sign-in form (the web front end restyles it)."""

    async def get(self) -> None:
        # Never to another site after signing in: the page's script gets a validated path.
        next_url = safe_next(self.get_query_argument("next", ""), self.base_url)
        self.xsrf_token  # noqa: B018 - sets the _xsrf cookie the page's scripts send back
        send_page(
            self,
            LOGIN_PAGE,
            next=json_attr(next_url),
            api=json_attr(url_path_join(self.base_url, "api/collab/login")),
        )


class ConfirmSignInHandler(CollabHandlerMixin, JupyterHandler):
    """``POST /login/confirm``: the person confirmed a sign-in link followed from another site.

    A plain form post (``token``, ``next``, ``_xsrf``): jupyter_server checks the XSRF token
    (the form came from our confirmation page), so another site cannot post it.
    """

    async def post(self) -> None:
        token = self.get_body_argument("token", "")
        next_url = safe_next(self.get_body_argument("next", ""), self.base_url)
        provider = provider_of(self)
        if not token or not await resolve(provider.persistent_id(token)):
            raise Unauthenticated("This sign-in link is not valid (used, expired or revoked)")
        must_set = False
        links = capability(provider, SignInLinks)
        if links is not None:
            token, must_set = await off_loop(links.redeem_link, token)
        set_session_cookie(self, token)
        self.redirect(password_page_url(self.base_url, next_url) if must_set else next_url)


def password_page_url(base_url: str, next_url: str) -> str:
    from urllib.parse import urlencode

    return url_path_join(base_url, "set-password") + "?" + urlencode({"next": next_url})


class SetPasswordPageHandler(CollabHandlerMixin, JupyterHandler):
    """``GET /set-password``: the form to set one's password (signed-in people only)."""

    async def get(self) -> None:
        next_url = safe_next(self.get_query_argument("next", ""), self.base_url)
        if self.current_user is None:
            self.redirect(url_path_join(self.base_url, "login") + "?next=" + next_url)
            return
        require_capability(self, Passwords)
        has_password = await self._has_password()
        why = (
            "Choose a password to sign in with from now on."
            if not has_password
            else "Your other sessions and API tokens will be signed out."
        )
        self.xsrf_token  # noqa: B018 - the page's script sends it back
        send_page(
            self,
            SET_PASSWORD_PAGE,
            next=json_attr(next_url),
            api=json_attr(url_path_join(self.base_url, "api/collab/password")),
            current=json.dumps(has_password),
            name=self.current_user.name or self.current_user.username,
            why=why,
        )

    async def _has_password(self) -> bool:
        passwords = require_capability(self, Passwords)
        return bool(await resolve(passwords.has_password(self.current_user.username)))


class PasswordHandler(CollabHandlerMixin, APIHandler):
    """``POST /api/collab/password`` ``{new_password, current_password?}``."""

    @web.authenticated
    async def post(self) -> None:
        body = json_object(self)
        new = string_field(body, "new_password", max_length=1000)
        current = string_field(body, "current_password", required=False, max_length=1000)
        passwords = require_capability(self, Passwords)
        token, source = token_and_source(self)
        session = await off_loop(passwords.set_password, token, current or None, new)
        if source == "cookie":
            set_session_cookie(self, session)
        self.finish({"password_set": True})


class MeHandler(CollabHandlerMixin, APIHandler):
    """``GET /api/collab/me?path=P``: identity, permissions on P, and what is shared with me."""

    @web.authenticated
    async def get(self) -> None:
        path = api_path_of(self.get_query_argument("path", ""))
        user = self.current_user
        permissions = {
            action: await is_allowed(self, action, f"contents:{path}") for action in ACTIONS
        }
        shared: list[Any] = []
        shared_with = capability(provider_of(self), SharedWith)
        if shared_with is not None:
            shared = await resolve(shared_with.shared_with(token_from_request(self)))
        self.finish(
            {
                "identity": public_identity(user),
                "path": path,
                "permissions": permissions,
                "server_admin": await is_allowed(self, "admin", "server"),
                "shared_with_me": shared,
            }
        )


class SharesHandler(CollabHandlerMixin, APIHandler):
    """``/api/collab/shares/{path}``: list, grant and revoke access to a file or folder."""

    async def _resource(self, path: str, action: str, refusal: str) -> str:
        if self.current_user is None:
            raise Unauthenticated("Sign in first")
        api_path = api_path_of(path)
        if not await is_allowed(self, action, f"contents:{api_path}"):
            raise Forbidden(refusal)
        if not await ensure_async(self.contents_manager.exists(api_path)):
            raise NotFound(f"No file or folder {api_path!r}")
        return api_path

    async def get(self, path: str) -> None:
        # Who has access is the owners' business: a viewer of a file (or of a folder) does not
        # learn who else was given it, nor the grants of the folders above it.
        api_path = await self._resource(path, "share", "Only owners may see who has access")
        shares = await off_loop(require_capability(self, Sharing).list_shares, api_path)
        for share in shares:
            share["inherited"] = share["path"] != api_path
        self.finish({"path": api_path, "shares": shares})

    async def post(self, path: str) -> None:
        api_path = await self._resource(path, "share", "Only owners may share this file")
        body = json_object(self)
        principal = string_field(body, "principal", max_length=200)
        role = string_field(body, "role", max_length=20)
        if role not in ROLE_ACTIONS:
            raise Invalid(f"Unknown role {role!r}; use one of {', '.join(ROLE_ACTIONS)}")
        # Nobody grants more than they hold.
        if not await is_allowed(self, ROLE_ACTIONS[role], f"contents:{api_path}"):
            raise Forbidden(f"You cannot grant {role}: you do not hold it")
        sharing = require_capability(self, Sharing)
        with legacy_errors():
            by = self.current_user.username
            await off_loop(sharing.add_share, api_path, principal, role, by)
        self.log.info("%s shared %s with %s as %s", self.current_user.username, api_path,
                      principal, role)  # fmt: skip
        self.set_status(201)
        self.finish({"path": api_path, "shares": await off_loop(sharing.list_shares, api_path)})

    async def delete(self, path: str) -> None:
        api_path = await self._resource(path, "share", "Only owners may change who has access")
        principal = self.get_query_argument("principal", "")
        if not principal:
            raise Invalid("Say whose access to remove: ?principal=user:NAME")
        sharing = require_capability(self, Sharing)
        role = await off_loop(sharing.share_role, api_path, principal)
        if role in ROLE_ACTIONS and not await is_allowed(
            self, ROLE_ACTIONS[role], f"contents:{api_path}"
        ):
            raise Forbidden(f"You cannot remove a {role}: you do not hold that role")
        removed = await off_loop(sharing.remove_share, api_path, principal)
        if not removed:
            raise NotFound(
                f"{principal} has no access granted on {api_path!r} itself (check folders above)"
            )
        self.log.info("%s removed %s from %s", self.current_user.username, principal, api_path)
        self.set_status(204)
        self.finish()


class TokensHandler(CollabHandlerMixin, APIHandler):
    """``GET|POST /api/collab/tokens``: the caller's personal API tokens."""

    @web.authenticated
    async def get(self) -> None:
        tokens_of = require_capability(self, Tokens).list_tokens
        tokens = await off_loop(tokens_of, token_from_request(self))
        self.finish({"tokens": tokens})

    @web.authenticated
    async def post(self) -> None:
        body = json_object(self)
        label = string_field(body, "label", required=False, max_length=100)
        days = body.get("expires_in_days")
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 3650
        ):
            raise Invalid('"expires_in_days" must be a number of days from 1 to 3650')
        tokens = require_capability(self, Tokens)
        token, record = await off_loop(
            tokens.create_token, token_from_request(self), label, days * 86400 if days else None
        )
        self.set_status(201)
        # The only time the token is shown: only its hash is kept.
        self.finish({"token": token, **record})


class TokenHandler(CollabHandlerMixin, APIHandler):
    """``DELETE /api/collab/tokens/{id}``: revoke one of the caller's tokens."""

    @web.authenticated
    async def delete(self, token_id: str) -> None:
        tokens = require_capability(self, Tokens)
        revoked = await off_loop(tokens.revoke_token, token_from_request(self), token_id)
        if not revoked:
            raise NotFound("You have no token with this id")
        self.set_status(204)
        self.finish()


def auth_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    return [
        (r"/login", LoginPageHandler),
        (r"/login/confirm", ConfirmSignInHandler),
        (r"/set-password", SetPasswordPageHandler),
        (r"/api/collab/password", PasswordHandler),
        (r"/logout", LogoutPageHandler),
        (r"/api/collab/login", LoginHandler),
        (r"/api/collab/logout", LogoutHandler),
        (r"/api/collab/me", MeHandler),
        (r"/api/collab/shares/?(.*)", SharesHandler),
        (r"/api/collab/tokens/?", TokensHandler),
        (r"/api/collab/tokens/([^/]+)", TokenHandler),
    ]
