"""The administration REST API (``/api/collab/admin/…``), for the ``/admin`` page.

* ``GET  /api/collab/admin/users`` → ``{"users": [record]}``; a record is ``{"name",
  "display_name", "is_admin", "may_execute", "disabled", "groups", "has_password",
  "created_at", "last_sign_in_at"}``;
* ``POST /api/collab/admin/users`` ``{"name", "display_name"?, "password"?, "admin"?,
  "may_execute"?, "groups"?}`` → 201 ``{"user", "link"}``: without a password, ``link`` is a
  one-time sign-in link ``{"url", "expires_at"}`` (the person chooses a password on opening
  it), else null;
* ``GET  /api/collab/admin/users/{name}`` → ``{"user"}``;
* ``PATCH /api/collab/admin/users/{name}`` ``{"disabled"?, "admin"?, "may_execute"?,
  "display_name"?}`` → ``{"user"}``; leaving no administrator who can sign in → 409; an
  administrator disabling their own account → 409 (another administrator does that, so
  nobody locks themselves out by a click);
* ``POST /api/collab/admin/users/{name}/reset-password`` → ``{"user", "link"}`` (the old
  password, sessions and tokens end; a password is never shown);
* ``GET  /api/collab/admin/users/{name}/access`` → what they were granted (directly, through
  groups and audiences);
* ``GET  /api/collab/admin/users/{name}/tokens`` → ``{"tokens": [{"id", "label", "kind":
  "api"|"session", "created_at", "expires_at", "last_used_at"}]}`` (never a secret);
* ``DELETE /api/collab/admin/users/{name}/tokens/{id}`` → 204; it stops working at once and
  open sockets using it close at their next re-check; a token that is not theirs → 404;
* ``GET  /api/collab/admin/groups`` → ``{"groups": [{"name", "members"}]}``;
* ``PUT|DELETE /api/collab/admin/groups/{group}/members/{name}`` → ``{"group"}`` (a group is
  made by its first member and is gone with its last);
* ``GET  /api/collab/admin/access?path=P`` → the grants on ``P`` and the folders above it, and
  each person's strongest role through them;
* ``GET|POST|DELETE /api/collab/admin/grants/{resource}`` — who may read a published copy
  (``published:{id}``, role ``viewer``) or see and run an app (``apps:{id}``, ``viewer`` or
  ``runner``): ``{"principal", "role"}`` with a principal ``user:NAME``, ``group:NAME``,
  ``signed-in`` or ``everyone``; ``DELETE …?principal=P`` → 204.

Only administrators — whoever the provider lets do ``admin`` on ``server`` — get an answer:
anyone else 403 before anything is looked up (nobody learns which accounts exist), nobody
signed in 401. A provider without the capability a route needs answers 501. Unknown user 404,
a bad name or value 422, through ``core.errors``.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web

from ..core.errors import Conflict, Forbidden, NotFound, Unauthenticated, Unprocessable
from ..core.http import CollabHandlerMixin, json_object, string_field
from .handlers import api_path_of, off_loop, require_capability
from .jupyter import is_allowed
from .provider import AccessReport, GroupAdmin, ResourceSharing, TokenAdmin, UserAdmin

_NAME = r"([^/]+)"
_FLAGS = ("disabled", "admin", "may_execute")


class AdminHandler(CollabHandlerMixin, APIHandler):
    """Every administration route: administrators only (see the module docstring)."""

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self._finished:
            return
        if self.current_user is None:
            raise Unauthenticated("Sign in first")
        if not await is_allowed(self, "admin", "server"):
            raise Forbidden("Only administrators may manage users and groups")

    @property
    def caller(self) -> str:
        return str(self.current_user.username)

    def link(self, made: dict[str, Any] | None) -> dict[str, Any] | None:
        """A one-time sign-in link as a URL to hand over (the page's address + ``?token=``)."""
        if made is None:
            return None
        base = url_path_join(self.base_url, "")
        url = f"{self.request.protocol}://{self.request.host}{base}?token={made['token']}"
        return {"url": url, "expires_at": made.get("expires_at")}


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise Unprocessable(f'"{name}" must be true or false')
    return value


def _groups(body: dict[str, Any]) -> list[str]:
    groups = body.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise Unprocessable('"groups" must be a list of group names')
    return [g for g in (g.strip() for g in groups) if g]


class UsersHandler(AdminHandler):
    """``GET|POST /api/collab/admin/users``."""

    async def get(self) -> None:
        users = await off_loop(require_capability(self, UserAdmin).list_users)
        self.finish({"users": users})

    async def post(self) -> None:
        admin = require_capability(self, UserAdmin)
        body = json_object(self)
        name = string_field(body, "name", max_length=200).strip().lower()
        display = string_field(body, "display_name", required=False, max_length=200) or None
        password = string_field(body, "password", required=False, max_length=1000) or None

        def create() -> Any:
            return admin.create_user(
                name,
                display_name=display,
                password=password,
                admin=bool(_flag(body, "admin")),
                may_execute=bool(_flag(body, "may_execute")),
                groups=_groups(body),
            )

        user, made = await off_loop(create)
        self.log.info("%s created the account %s", self.caller, user["name"])
        self.set_status(201)
        self.finish({"user": user, "link": self.link(made)})


class UserHandler(AdminHandler):
    """``GET|PATCH /api/collab/admin/users/{name}``."""

    async def get(self, name: str) -> None:
        user = await off_loop(require_capability(self, UserAdmin).user_record, name)
        self.finish({"user": user})

    async def patch(self, name: str) -> None:
        admin = require_capability(self, UserAdmin)
        body = json_object(self)
        unknown = set(body) - {*_FLAGS, "display_name"}
        if unknown:
            raise Unprocessable(f"Unknown fields: {', '.join(sorted(unknown))}")
        flags = {key: _flag(body, key) for key in _FLAGS}
        if flags["disabled"] is True and name.strip().lower() == self.caller.strip().lower():
            # It would sign the caller out at once, with nobody but another administrator
            # able to let them back in; that other administrator can do it if it is wanted.
            raise Conflict(
                "You cannot disable your own account: you would be signed out at once."
                " Ask another administrator to do it."
            )
        display = string_field(body, "display_name", required=False, max_length=200) or None

        def update() -> Any:
            return admin.update_user(
                name,
                display_name=display,
                admin=flags["admin"],
                may_execute=flags["may_execute"],
                disabled=flags["disabled"],
            )

        user = await off_loop(update)
        changed = ", ".join(f"{k}={v}" for k, v in flags.items() if v is not None)
        self.log.info("%s changed the account %s: %s", self.caller, user["name"], changed)
        self.finish({"user": user})


class ResetPasswordHandler(AdminHandler):
    """``POST /api/collab/admin/users/{name}/reset-password``."""

    async def post(self, name: str) -> None:
        admin = require_capability(self, UserAdmin)
        made = await off_loop(admin.reset_password, name)
        user = await off_loop(admin.user_record, name)
        self.log.info("%s reset the password of %s", self.caller, user["name"])
        self.finish({"user": user, "link": self.link(made)})


class UserAccessHandler(AdminHandler):
    """``GET /api/collab/admin/users/{name}/access``."""

    async def get(self, name: str) -> None:
        self.finish(await off_loop(require_capability(self, AccessReport).access_of, name))


class UserTokensHandler(AdminHandler):
    """``GET /api/collab/admin/users/{name}/tokens``."""

    async def get(self, name: str) -> None:
        tokens = await off_loop(require_capability(self, TokenAdmin).user_tokens, name)
        self.finish({"tokens": tokens})


class UserTokenHandler(AdminHandler):
    """``DELETE /api/collab/admin/users/{name}/tokens/{id}``."""

    async def delete(self, name: str, token_id: str) -> None:
        await off_loop(require_capability(self, TokenAdmin).revoke_user_token, name, token_id)
        self.log.info("%s revoked a token of %s (id %s)", self.caller, name, token_id)
        self.set_status(204)
        self.finish()


class GroupsHandler(AdminHandler):
    """``GET /api/collab/admin/groups``."""

    async def get(self) -> None:
        self.finish({"groups": await off_loop(require_capability(self, GroupAdmin).list_groups)})


class MemberHandler(AdminHandler):
    """``PUT|DELETE /api/collab/admin/groups/{group}/members/{name}``."""

    async def put(self, group: str, name: str) -> None:
        found = await off_loop(require_capability(self, GroupAdmin).add_member, group, name)
        self.log.info("%s added %s to the group %s", self.caller, name, group)
        self.finish({"group": found})

    async def delete(self, group: str, name: str) -> None:
        found = await off_loop(require_capability(self, GroupAdmin).remove_member, group, name)
        self.log.info("%s removed %s from the group %s", self.caller, name, group)
        self.finish({"group": found})


class AccessHandler(AdminHandler):
    """``GET /api/collab/admin/access?path=P``."""

    async def get(self) -> None:
        report = require_capability(self, AccessReport)
        path = api_path_of(self.get_query_argument("path", ""))
        if not await ensure_async(self.contents_manager.exists(path)):
            raise NotFound(f"No file or folder {path!r}")
        self.finish(await off_loop(report.access_on, path))


class ResourceGrantsHandler(AdminHandler):
    """``GET|POST|DELETE /api/collab/admin/grants/{resource}``."""

    async def get(self, resource: str) -> None:
        sharing = require_capability(self, ResourceSharing)
        grants = await off_loop(sharing.list_resource_grants, resource)
        self.finish({"resource": resource, "grants": grants})

    async def post(self, resource: str) -> None:
        sharing = require_capability(self, ResourceSharing)
        body = json_object(self)
        principal = string_field(body, "principal", max_length=200)
        role = string_field(body, "role", max_length=20)
        await off_loop(sharing.add_resource_grant, resource, principal, role, self.caller)
        self.log.info("%s granted %s %s on %s", self.caller, principal, role, resource)
        self.set_status(201)
        grants = await off_loop(sharing.list_resource_grants, resource)
        self.finish({"resource": resource, "grants": grants})

    async def delete(self, resource: str) -> None:
        sharing = require_capability(self, ResourceSharing)
        principal = self.get_query_argument("principal", "")
        if not principal:
            raise Unprocessable("Say whose access to remove: ?principal=signed-in")
        if not await off_loop(sharing.remove_resource_grant, resource, principal):
            raise NotFound(f"{principal} has no grant on {resource}")
        self.log.info("%s removed %s from %s", self.caller, principal, resource)
        self.set_status(204)
        self.finish()


def admin_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    return [
        (r"/api/collab/admin/users/?", UsersHandler),
        (rf"/api/collab/admin/users/{_NAME}/reset-password", ResetPasswordHandler),
        (rf"/api/collab/admin/users/{_NAME}/access", UserAccessHandler),
        (rf"/api/collab/admin/users/{_NAME}/tokens/?", UserTokensHandler),
        (rf"/api/collab/admin/users/{_NAME}/tokens/{_NAME}", UserTokenHandler),
        (rf"/api/collab/admin/users/{_NAME}", UserHandler),
        (r"/api/collab/admin/groups/?", GroupsHandler),
        (rf"/api/collab/admin/groups/{_NAME}/members/{_NAME}", MemberHandler),
        (r"/api/collab/admin/access", AccessHandler),
        (rf"/api/collab/admin/grants/{_NAME}", ResourceGrantsHandler),
    ]
