"""The provider capabilities: declared Protocols, checked in one place (fast, in-process)."""

from __future__ import annotations

import asyncio
from typing import Any

from collab_server.auth import (
    CAPABILITIES,
    KernelEnv,
    PermissionsRevision,
    Sessions,
    Sharing,
    SingleTokenProvider,
    capability,
    has_capability,
    permissions_revision_of,
    safe_next,
)
from collab_server.auth.limits import MemoryLoginLimiter
from collab_server.auth.provider import TooManyAttempts


class Minimal:
    def persistent_id(self, token: str) -> str | None:
        return "me" if token == "t" else None

    def allowed(self, token: str, action: str, resource: str) -> bool:
        return token == "t"


class HalfSharing(Minimal):
    def list_shares(self, path: str) -> list[dict[str, Any]]:
        return []


def test_a_minimal_provider_has_no_optional_capability():
    assert not any(has_capability(Minimal(), c) for c in CAPABILITIES.values())
    assert permissions_revision_of(Minimal()) is None


def test_a_capability_needs_every_one_of_its_methods():
    assert not has_capability(HalfSharing(), Sharing)


def test_built_in_providers_declare_what_they_have():
    single = SingleTokenProvider(token="x" * 24)
    assert has_capability(single, KernelEnv)
    assert not has_capability(single, Sessions) and not has_capability(single, PermissionsRevision)
    found = capability(single, KernelEnv)
    assert found is not None and found.kernel_env("x" * 24) == {"JUPYTER_AUTH_ID": "owner"}
    assert found.kernel_env("wrong") == {}


def test_accounts_provider_capabilities(tmp_path):
    from collab_server.auth.accounts import AccountsProvider

    provider = AccountsProvider(database_path=str(tmp_path / "a.sqlite"))
    for name in ("identity", "permissions_revision", "sharing", "tokens", "sessions",
                 "passwords", "sign_in_links", "startup_token", "file_moves", "kernel_env",
                 "anonymous_access", "shared_with", "groups", "display_names"):  # fmt: skip
        assert has_capability(provider, CAPABILITIES[name]), name
    link = provider.startup_token()
    assert provider.kernel_env(link) == {"JUPYTER_AUTH_ID": "admin"}  # no token in a kernel


def test_safe_next():
    for bad in ("//evil", "/\\evil", "/\t/evil", "/\n/evil", "https://evil/", "evil",
                "javascript:x", ""):  # fmt: skip
        assert safe_next(bad, "/") == "/"
    assert safe_next("/a/b?c=1#d", "/") == "/a/b?c=1#d"
    assert safe_next("/other/x", "/base/") == "/base/"
    assert safe_next("/base", "/base/") == "/base"


def test_the_limiter_counts_before_the_check_and_per_address():
    limiter = MemoryLoginLimiter(per_name=3, per_address=5, window=60)
    held = [limiter.reserve("ann", "1.1.1.1") for _ in range(3)]
    try:
        limiter.reserve("ann", "2.2.2.2")
        raise AssertionError("a fourth attempt was reserved")
    except TooManyAttempts as e:
        assert e.retry_after > 0
    limiter.succeed(held[0])  # a success frees its own place only
    limiter.reserve("ann", "2.2.2.2")
    limiter.reserve("bob", "1.1.1.1")
    limiter.reserve("cid", "1.1.1.1")
    try:  # 1.1.1.1 has used its 5 attempts (3 ann + bob + cid, minus the success)
        limiter.reserve("dan", "1.1.1.1")
        limiter.reserve("eve", "1.1.1.1")
        raise AssertionError("the address limit did not hold")
    except TooManyAttempts:
        pass
    limiter.reserve("dan", "3.3.3.3")  # another address is not affected


def test_async_kernel_env_of_the_jwt_provider():
    import time

    import jwt

    from collab_server.auth.jwt_tokens import JwtProvider

    secret = "s" * 40
    provider = JwtProvider(secret=secret, audience="a", issuer="i")
    token = jwt.encode({"sub": "ann", "aud": "a", "iss": "i", "exp": time.time() + 60}, secret)
    assert asyncio.run(provider.kernel_env(token)) == {"JUPYTER_AUTH_ID": "ann"}


def test_the_accounts_connection_uses_the_servers_database_settings(tmp_path):
    from traitlets import Unicode
    from traitlets.config import Configurable

    from collab_server.auth.accounts import AccountsProvider

    class Server(Configurable):
        data_dir = Unicode(str(tmp_path))
        sqlite_synchronous = Unicode("FULL")

    provider = AccountsProvider(parent=Server())
    assert provider.store.db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
