"""The adapter from our provider interface into jupyter_server's auth hooks.

jupyter_server asks two objects about every request: an ``IdentityProvider`` (who is this?)
and an ``Authorizer`` (may they do ``action`` on a *kind* of resource?). Both are replaced
here by thin classes that ask the operator's :class:`AuthorizationProvider` instead, so every
existing Jupyter handler — contents, files, kernels, sessions, kernelspecs, nbconvert, … —
is checked by the same provider as our own routes. Unlike jupyter_server's authorizer, the
provider sees the **concrete** resource (``contents:notebooks/a.ipynb``), not only
``contents``.

The provider instance lives in the web application's settings under ``collab_provider``
(put there by the app), which is how these per-request objects find it; the people directory
(:mod:`.people`, ``collab_people``) is told each caller's display name the same way.

``?token=`` on a page signs the browser in (as in Jupyter: a pasted link works) only when the
navigation did not come from another site: ``Sec-Fetch-Site`` is ``none`` (typed, pasted, a
bookmark) or ``same-origin``, or absent (clients that are not browsers, or browsers too old to
send it). A link followed from another site (``cross-site``/``same-site``) shows a confirmation
page instead ("Sign in as NAME?", a form with the XSRF token), so no page elsewhere can sign a
browser in as someone else (sign-in CSRF). The browser is then sent to the same address without
the token, never to another site (:func:`~collab_server.auth.urls.safe_next`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.services.api.handlers import IdentityHandler
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import default

from ..core.errors import CollabError
from ..core.http import to_http_error
from ..core.paths import normalize
from .people import PEOPLE_SETTING
from .provider import AnonymousAccess, SignInLinks, capability, identity_of, resolve
from .signin_pages import CONFIRM_PAGE, send_page
from .urls import safe_next

PROVIDER_SETTING = "collab_provider"

# Set by the kernels: ``kernel_id -> notebook path | None``. A notebook's kernel is reached
# (REST, websocket) only by people who may ``execute`` in that notebook.
KERNEL_PATH_SETTING = "collab_kernel_path"

# The browser's session: a signed, HttpOnly cookie holding the caller's token.
SESSION_COOKIE = "collab_session"

_AUTH_HEADER = re.compile(r"^\s*(?:token|bearer)\s+(\S+)\s*$", re.IGNORECASE)

# jupyter_server resource kinds that name a file or folder through the handler's ``path``.
_PATH_RESOURCES = {"contents", "nbconvert", "files"}
# Kinds that reveal everyone's activity or give a shell: administration, whatever the action.
_ADMIN_RESOURCES = {"events", "terminals"}


def provider_of(handler: web.RequestHandler) -> Any:
    provider = handler.settings.get(PROVIDER_SETTING)
    if provider is None:  # never fall back to "allow all": refuse instead
        raise web.HTTPError(500, "No authorization provider is configured")
    return provider


def token_and_source(handler: web.RequestHandler) -> tuple[str, str]:
    """The caller's token and where it came from: ``header``, ``query``, ``cookie`` or ``""``.

    ``Authorization: Bearer|token …`` first, then ``?token=`` (what JupyterLab puts on
    websocket URLs), then the browser's session cookie.
    """
    cached = getattr(handler, "_collab_token", None)
    if cached is not None:
        return cached
    match = _AUTH_HEADER.match(handler.request.headers.get("Authorization", ""))
    if match:
        found = (match.group(1), "header")
    elif handler.get_query_argument("token", ""):
        found = (handler.get_query_argument("token", "") or "", "query")
    else:
        cookie = _read_session_cookie(handler)
        found = (cookie, "cookie") if cookie else ("", "")
    handler._collab_token = found  # type: ignore[attr-defined]
    return found


def token_from_request(handler: web.RequestHandler) -> str:
    """The caller's token (see :func:`token_and_source`)."""
    return token_and_source(handler)[0]


def _read_session_cookie(handler: web.RequestHandler) -> str:
    if not handler.settings.get("cookie_secret"):
        return ""
    value = handler.get_secure_cookie(SESSION_COOKIE, max_age_days=365)
    return value.decode("utf-8") if value else ""


def set_session_cookie(handler: web.RequestHandler, token: str, days: float = 14) -> None:
    """Sign the browser in: HttpOnly (no script can read it), SameSite=Lax (not sent on
    cross-site POSTs or sub-requests), Secure when the page came over TLS."""
    handler.set_secure_cookie(
        SESSION_COOKIE,
        token,
        expires_days=days,
        httponly=True,
        samesite="Lax",
        secure=handler.request.protocol == "https",
        path=handler.settings.get("base_url", "/"),
    )


def clear_session_cookie(handler: web.RequestHandler) -> None:
    handler.clear_cookie(SESSION_COOKIE, path=handler.settings.get("base_url", "/"))


# Compatibility for modules not yet importing ``core.paths`` (kernels): the same function.
normalize_api_path = normalize


def concrete_resource(handler: web.RequestHandler, kind: str) -> str | None:
    """The resource a Jupyter handler acts on, e.g. ``contents:a/b.ipynb`` or ``kernels:ID``.

    Returns None when the request names a path outside the root (it is then refused).
    """
    kwargs = handler.path_kwargs or {}
    args = handler.path_args or []
    if kind in _PATH_RESOURCES:
        raw = kwargs.get("path")
        if raw is None:
            raw = args[-1] if args else ""
        if isinstance(handler, IdentityHandler):
            # ``GET /api/me?permissions=…&path=P``: what the caller may do on P.
            raw = handler.get_query_argument("path", "") or ""
        path = normalize(raw or "")
        return None if path is None else f"contents:{path}"
    if kind == "kernels":
        kernel_id = kwargs.get("kernel_id") or (args[0] if args else "")
        return f"kernels:{kernel_id}" if kernel_id else "kernels"
    if kind == "sessions":
        return "sessions"
    return "server"


def concrete_action(kind: str, action: str) -> str:
    """The action asked of the provider for a jupyter_server (kind, action)."""
    return "admin" if kind in _ADMIN_RESOURCES else action


def anonymous_allowed(provider: Any) -> bool:
    """Does the operator let requests without a token in (the provider decides what they get)?"""
    found = capability(provider, AnonymousAccess)
    return bool(found is not None and found.allow_anonymous)


async def is_allowed(handler: web.RequestHandler, action: str, resource: str) -> bool:
    """Ask the provider whether the caller of ``handler`` may do ``action`` on ``resource``."""
    token = token_from_request(handler)
    provider = provider_of(handler)
    if not token and not anonymous_allowed(provider):
        return False
    return bool(await resolve(provider.allowed(token, action, resource)))


class CollabIdentityProvider(IdentityProvider):
    """Identifies callers by asking the provider for the token's persistent id."""

    # jupyter_server prints this token in its start-up URLs; the app sets it from the
    # provider (or leaves it empty when the provider has no single start-up token).
    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return False

    @default("updatable_fields")
    def _no_updatable_fields(self) -> list[str]:
        # Identity comes from the provider: nobody renames or recolours themselves through
        # PATCH /api/me (collaborators would see a name the provider never vouched for).
        return []

    async def get_user(self, handler: web.RequestHandler) -> User | None:  # type: ignore[override]
        # Nobody is known until this returns. Said now, so that an error raised below (a
        # 401 for a bad token) can be rendered: jupyter_server's error page asks for the
        # current user and, before prepare() has set it, raised instead of answering
        # ("Uncaught exception in write_error", an empty 401).
        handler.current_user = None
        handler._jupyter_current_user = None  # type: ignore[attr-defined]
        token, source = token_and_source(handler)
        provider = provider_of(handler)
        if not token and not anonymous_allowed(provider):
            return None
        signing_in = source == "query" and _is_page_request(handler)
        if signing_in and not _navigation_from_this_site(handler):
            await _confirm_sign_in(handler, provider, token)  # raises Finish
        must_set_password = False
        if signing_in:
            links = capability(provider, SignInLinks)
            if links is not None:
                try:
                    token, must_set_password = links.redeem_link(token)
                except CollabError as e:  # this runs in any handler, ours or jupyter_server's
                    raise to_http_error(e) from e
                handler._collab_token = (token, source)  # type: ignore[attr-defined]
        user_id = await resolve(provider.persistent_id(token))
        if not user_id:
            if source == "cookie":
                # A stale browser session (revoked, expired): forget it and go to login.
                clear_session_cookie(handler)
                return None
            # A token was presented and is not valid: say so, rather than treating the request
            # as anonymous (which surfaces as a confusing XSRF or permission error).
            raise web.HTTPError(401, reason="Invalid or expired token")
        fields = await identity_of(provider, token, str(user_id))
        people = handler.settings.get(PEOPLE_SETTING)
        if people is not None:
            # Pages name owners, publishers and runners by the name last seen here (a dict
            # look-up; a new or changed name is written in the background, never waited for).
            people.notice(fields["username"], fields["display_name"])
        if _is_page_request(handler):
            # For JupyterLab's page config (lab_page_config_hook), which is built synchronously.
            handler._collab_may_start_kernels = bool(  # type: ignore[attr-defined]
                await resolve(provider.allowed(token, "write", "sessions"))
            )
        # Requests with a token in a header or the URL skip XSRF checks in jupyter_server: a
        # page on another site cannot make a browser send a token it does not know. Requests
        # that ride on the session cookie are exactly what XSRF protection is for.
        handler._token_authenticated = source in ("header", "query")  # type: ignore[attr-defined]
        if signing_in:
            # ?token= on a page signs the browser in, as in Jupyter. A browser navigating to
            # the page is then sent to the address without the token, so it stays out of the
            # address bar, the history and Referer headers (and to the password form first
            # when the account has no password yet).
            set_session_cookie(handler, token)
            base = handler.settings.get("base_url", "/")
            target = safe_next(_without_token(handler.request), base)
            if must_set_password:
                from urllib.parse import urlencode

                target = url_path_join(base, "set-password") + "?" + urlencode({"next": target})
            if must_set_password or "text/html" in handler.request.headers.get("Accept", ""):
                handler.redirect(target)
                raise web.Finish()
        return User(
            username=fields["username"],
            name=fields["name"],
            display_name=fields["display_name"],
            initials=fields["initials"],
            avatar_url=fields["avatar_url"],
            color=fields["color"],
        )

    def validate_security(self, app: Any, ssl_options: dict[str, Any] | None = None) -> None:
        # Anonymous access is impossible with this provider: nothing to warn about.
        return None


def public_identity(user: User) -> dict[str, Any]:
    """What collaborators and the caller are shown of a verified user."""
    return {
        "username": user.username,
        "name": user.name,
        "display_name": user.display_name,
        "initials": user.initials,
        "avatar_url": user.avatar_url,
        "color": user.color,
    }


def lab_page_config_hook(handler: web.RequestHandler, page_config: dict[str, Any]) -> Any:
    """JupyterLab's page config for this person: no kernel is started on opening a notebook
    for someone who may not start one.

    JupyterLab (``@jupyterlab/notebook-extension``) reads ``notebookStartsKernel`` once per
    page load as the notebook factory's ``preferKernel``: with ``"false"`` opening a notebook
    sends no ``POST /api/sessions`` (which the server refuses without ``execute``, and
    JupyterLab showed as "Error Starting Kernel"); the notebook opens with "No Kernel".
    """
    if getattr(handler, "_collab_may_start_kernels", True) is False:
        page_config["notebookStartsKernel"] = "false"
    return page_config


def _navigation_from_this_site(handler: web.RequestHandler) -> bool:
    site = handler.request.headers.get("Sec-Fetch-Site")
    return site is None or site in ("none", "same-origin")


async def _confirm_sign_in(handler: web.RequestHandler, provider: Any, token: str) -> None:
    """Answer a sign-in link followed from another site with a page asking to confirm."""
    user_id = await resolve(provider.persistent_id(token))
    if not user_id:
        raise web.HTTPError(401, reason="Invalid or expired token")
    fields = await identity_of(provider, token, str(user_id))
    base = handler.settings.get("base_url", "/")
    handler.set_status(200)
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("Referrer-Policy", "no-referrer")
    send_page(
        handler,
        CONFIRM_PAGE,
        name=str(fields["display_name"] or user_id),
        token=token,
        next=safe_next(_without_token(handler.request), base),
        xsrf=handler.xsrf_token.decode("ascii"),
        action=url_path_join(base, "login/confirm"),
        home=base,
    )
    raise web.Finish()


def _without_token(request: Any) -> str:
    query = [(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k != "token"]
    return request.path + (f"?{urlencode(query)}" if query else "")


def _is_page_request(handler: web.RequestHandler) -> bool:
    request = handler.request
    if request.method != "GET" or request.headers.get("Upgrade", "").lower() == "websocket":
        return False
    base = handler.settings.get("base_url", "/")
    return not request.path.startswith(base.rstrip("/") + "/api/")


class CollabAuthorizer(Authorizer):
    """Authorizes every jupyter_server handler through the provider, per concrete resource."""

    async def is_authorized(  # type: ignore[override]
        self, handler: web.RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        concrete = concrete_resource(handler, resource)
        if concrete is None:
            return False
        if not await is_allowed(handler, concrete_action(resource, action), concrete):
            return False
        kernel_path = handler.settings.get(KERNEL_PATH_SETTING)
        if resource == "kernels" and concrete != "kernels" and kernel_path is not None:
            path = kernel_path(concrete.partition(":")[2])
            if path is not None:
                return await is_allowed(handler, "execute", f"contents:{path}")
        return True
