"""Account administration for the local accounts: the policy behind the ``/admin`` page.

:class:`AccountAdmin` gives :class:`~collab_server.auth.accounts.AccountsProvider` the
capabilities :class:`~collab_server.auth.provider.UserAdmin`,
:class:`~collab_server.auth.provider.GroupAdmin`,
:class:`~collab_server.auth.provider.AccessReport`,
:class:`~collab_server.auth.provider.TokenAdmin` and
:class:`~collab_server.auth.provider.ResourceSharing`. The queries live in
:class:`~collab_server.auth.accounts.AccountStore`; the rules live here:

* names follow the accounts' naming rule (422 otherwise);
* at least one administrator who can sign in always remains: un-making or disabling the last
  one is refused (409), so nobody locks the server's administration away by a click;
* disabling keeps the account, its groups, grants and tokens, but its tokens (browser
  sessions, API tokens, sign-in links) stop working at once and the permissions revision
  changes, so its open sockets are closed at their next re-check; enabling gives them back;
* a new account without a password, and a password reset, get a one-time sign-in link (the
  same kind as the first start's): opening it signs the browser in and asks for a new
  password. A reset forgets the old password and ends every session and token first.
  Passwords are never shown, and never chosen by anyone but their owner unless given at
  creation;
* an administrator sees a person's API tokens and browser sessions (never a secret or its
  hash) and revokes any of them; a revoked token stops working at once and the permissions
  revision changes, so open sockets using it close at their next re-check. One-time sign-in
  links are not listed: a password reset replaces them;
* who has access to a path: the grants on it and on the folders above it, and each person's
  strongest role through them (directly, through a group, or through an audience);
  administrators have every right and are listed apart.

Every call may block (scrypt, SQLite): the REST handlers run them off the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core.paths import normalize
from .provider import (
    AUDIENCES,
    EVERYONE,
    ROLE_RANK,
    SIGNED_IN,
    Conflict,
    NotFound,
    Unprocessable,
)
from .rules import ANONYMOUS, AccountError, check_name, check_new_password

if TYPE_CHECKING:
    from .accounts import AccountStore

# A one-time sign-in link made by an administrator stays valid this long (or until used).
ADMIN_LINK_LIFETIME = 7 * 24 * 3600.0

# Resources that are not paths, and the roles that may be granted on them: a published copy
# is immutable, so the only thing to grant on it is reading it; an app (a published copy run
# with parameters) is seen by a viewer and run by a runner.
RESOURCE_ROLES: dict[str, tuple[str, ...]] = {
    "published": ("viewer",),
    "apps": ("viewer", "runner"),
}
# What each of those roles allows, weakest first (a runner also sees the app).
RESOURCE_ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "runner": frozenset({"run", "read"}),
}
_RESOURCE_RANK = {role: rank for rank, role in enumerate(RESOURCE_ROLE_ACTIONS)}

_AUDIENCE_NOTES = {
    SIGNED_IN: "everyone with an account",
    EVERYONE: "everyone, also people who are not signed in when anonymous access is on",
}


class AccountAdmin:
    """The administration capabilities of the local accounts (see the module docstring)."""

    store: AccountStore
    allow_anonymous: bool

    # -- users ----------------------------------------------------------------------------

    def _record(self, user: dict[str, Any], groups: list[str] | None = None) -> dict[str, Any]:
        return {
            "name": user["name"],
            "display_name": user["display_name"],
            "is_admin": user["is_admin"],
            "may_execute": user["may_execute"],
            "disabled": user["disabled"],
            "groups": sorted(groups if groups is not None else self.store.groups_of(user["name"])),
            "has_password": bool(user["password_hash"]),
            "created_at": user["created_at"],
            "last_sign_in_at": user["last_sign_in_at"],
        }

    def _existing(self, name: str) -> dict[str, Any]:
        user = self.store.user(check_name(name))
        if user is None:
            raise NotFound(f"No user named {name!r}")
        return user

    def list_users(self) -> list[dict[str, Any]]:
        members: dict[str, list[str]] = {}
        for group, names in self.store.groups().items():
            for name in names:
                members.setdefault(name, []).append(group)
        return [self._record(u, members.get(u["name"], [])) for u in self.store.users()]

    def user_record(self, name: str) -> dict[str, Any]:
        return self._record(self._existing(name))

    def create_user(
        self,
        name: str,
        *,
        display_name: str | None = None,
        password: str | None = None,
        admin: bool = False,
        may_execute: bool = False,
        groups: Iterable[str] = (),
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        name = check_name(name)
        groups = [check_name(g, "group name") for g in groups]
        display_name = _display_name(display_name) if display_name else None
        if password:
            check_new_password(password)
        if self.store.user(name) is not None:
            raise Conflict(f"A user named {name!r} already exists")
        self.store.put_user(
            name,
            password or None,
            display_name=display_name,
            admin=admin,
            may_execute=may_execute,
            groups=groups,
        )
        link = None if password else self._sign_in_link(name, "sign-in link")
        return self.user_record(name), link

    def update_user(
        self,
        name: str,
        *,
        display_name: str | None = None,
        admin: bool | None = None,
        may_execute: bool | None = None,
        disabled: bool | None = None,
    ) -> dict[str, Any]:
        name = self._existing(name)["name"]
        # (The store refuses, inside its transaction, to leave no administrator: 409.)
        flags: dict[str, bool] = {}
        if admin is not None:
            flags["is_admin"] = admin
            if admin:
                flags["may_execute"] = True  # administrators may do everything
        if may_execute is not None and not flags.get("may_execute"):
            flags["may_execute"] = may_execute
        if disabled is not None:
            flags["disabled"] = disabled
        self.store.set_flags(name, **flags)
        if display_name is not None:
            self.store.set_display_name(name, _display_name(display_name))
        return self.user_record(name)

    def reset_password(self, name: str) -> dict[str, Any]:
        user = self._existing(name)
        self.store.clear_password(user["name"])
        return self._sign_in_link(user["name"], "password reset link")

    def _sign_in_link(self, name: str, label: str) -> dict[str, Any]:
        # One link at a time: an older link (a lost e-mail) stops working.
        self.store.revoke_tokens(name, "setup")
        token, record = self.store.new_token(name, "setup", label, ADMIN_LINK_LIFETIME)
        return {"token": token, "expires_at": record["expires_at"]}

    # -- other people's tokens --------------------------------------------------------------

    def user_tokens(self, name: str) -> list[dict[str, Any]]:
        name = self._existing(name)["name"]
        found = [*self.store.tokens(name, "api"), *self.store.tokens(name, "session")]
        return sorted(found, key=lambda t: (t["created_at"] or "", t["id"]))

    def revoke_user_token(self, name: str, token_id: str) -> None:
        name = self._existing(name)["name"]
        # Only what user_tokens lists may be revoked here: a token of someone else (or a
        # sign-in link) is "not found" for this user, whatever its id.
        if token_id not in {t["id"] for t in self.user_tokens(name)}:
            raise NotFound(f"{name} has no token {token_id!r}")
        if not self.store.revoke_token(name, token_id):
            raise NotFound(f"{name} has no token {token_id!r}")

    # -- groups ---------------------------------------------------------------------------

    def list_groups(self) -> list[dict[str, Any]]:
        return [{"name": g, "members": m} for g, m in sorted(self.store.groups().items())]

    def _group(self, group: str) -> dict[str, Any]:
        return {"name": group, "members": self.store.groups().get(group, [])}

    def add_member(self, group: str, user: str) -> dict[str, Any]:
        group = check_name(group, "group name")
        name = self._existing(user)["name"]
        self.store.add_member(group, name)
        return self._group(group)

    def remove_member(self, group: str, user: str) -> dict[str, Any]:
        group = check_name(group, "group name")
        name = self._existing(user)["name"]
        if not self.store.remove_member(group, name):
            raise NotFound(f"{name} is not in the group {group!r}")
        return self._group(group)

    # -- who has access -------------------------------------------------------------------

    def access_on(self, path: str) -> dict[str, Any]:
        target = normalize(path)
        if target is None:
            raise Unprocessable("A path may not contain '..'")
        grants = []
        members = self.store.groups()  # one read of the memberships for the whole report
        for grant in self.store.grants_on(target):
            grant = dict(grant, inherited=grant["path"] != target)
            kind, _, who = grant["principal"].partition(":")
            if kind == "group":
                grant["members"] = members.get(who, [])
            elif grant["principal"] in _AUDIENCE_NOTES:
                grant["note"] = _AUDIENCE_NOTES[grant["principal"]]
            grants.append(grant)
        people = []
        admins = []
        for user in self.store.users():
            if user["is_admin"]:
                if not user["disabled"]:
                    admins.append(user["name"])
                continue
            principals = set(self._principals_of(user["name"], members))
            via = [g for g in grants if g["principal"] in principals]
            if not via:
                continue
            best = max(via, key=lambda g: ROLE_RANK.get(g["role"], -1))
            people.append(
                {
                    "name": user["name"],
                    "display_name": user["display_name"],
                    "disabled": user["disabled"],
                    "role": best["role"],
                    "via": sorted({g["principal"] for g in via}),
                }
            )
        return {"path": target, "grants": grants, "people": people, "admins": admins}

    def access_of(self, user: str) -> dict[str, Any]:
        record = self.user_record(user)
        principals = self._principals_of(record["name"])
        grants = [
            {k: g[k] for k in ("principal", "path", "role", "granted_by", "created_at")}
            for g in self.store.grants_of(principals)
        ]
        resources = self.store.resource_grants(principals=principals)
        return {"user": record, "grants": grants, "resources": resources}

    def _principals_of(self, name: str, members: dict[str, list[str]] | None = None) -> list[str]:
        groups = (
            [g for g, names in members.items() if name in names]
            if members is not None
            else self.store.groups_of(name)
        )
        return [f"user:{name}", *(f"group:{g}" for g in groups), *AUDIENCES]

    # -- grants on resources that are not paths (published copies) --------------------------

    def check_principal(self, principal: str) -> str:
        """``principal`` if it can be granted something: a known user or group, or an
        audience. ``user:anonymous`` only while anonymous access is on."""
        if principal in AUDIENCES:
            return principal
        kind, _, name = principal.partition(":")
        if kind == "user" and name == ANONYMOUS:
            if not self.allow_anonymous:
                raise Conflict(
                    "Anonymous access is off on this server, so nothing can be shared with "
                    "user:anonymous (the operator turns it on with "
                    "AccountsProvider.allow_anonymous)"
                )
        elif kind == "user":
            if self.store.user(name) is None:
                raise NotFound(f"No user named {name!r}")
        elif kind == "group":
            if not self.store.group_exists(name):
                raise NotFound(f"No group named {name!r}")
        else:
            raise AccountError(
                f'A principal is "user:NAME", "group:NAME", "{SIGNED_IN}" or "{EVERYONE}"'
            )
        return principal

    def list_resource_grants(self, resource: str) -> list[dict[str, Any]]:
        return self.store.resource_grants(_resource(resource))

    def add_resource_grant(self, resource: str, principal: str, role: str, granted_by: str) -> None:
        resource = _resource(resource)
        roles = RESOURCE_ROLES[resource.partition(":")[0]]
        if role not in roles:
            raise Unprocessable(f"On {resource} the role is one of: {', '.join(roles)}")
        self.store.put_resource_grant(self.check_principal(principal), resource, role, granted_by)

    def remove_resource_grant(self, resource: str, principal: str) -> bool:
        return self.store.delete_resource_grant(principal, _resource(resource))

    def resource_role(self, principals: list[str], resource: str) -> str | None:
        """The strongest role any of ``principals`` holds on ``resource`` (not a path)."""
        best: str | None = None
        for grant in self.store.resource_grants(resource, principals):
            role = grant["role"]
            rank = _RESOURCE_RANK.get(role, -1)
            if rank >= 0 and (best is None or rank > _RESOURCE_RANK[best]):
                best = role
        return best


def _resource(resource: str) -> str:
    kind, _, ident = resource.partition(":")
    if kind not in RESOURCE_ROLES or not ident.strip() or "/" in ident:
        raise Unprocessable(
            f"Grants here are on {', '.join(k + ':ID' for k in RESOURCE_ROLES)} (got {resource!r})"
        )
    return resource


def _display_name(text: str) -> str:
    text = " ".join(text.split())
    if not text or len(text) > 100:
        raise Unprocessable("A display name is 1–100 characters")
    return text
