"""JWT provider: sign in with tokens issued by your single-sign-on, without writing code.

Configure one key source and who the tokens are for::

    c.CollabServer.authorization_provider_class = "collab_server.auth.jwt_tokens.JwtProvider"
    c.JwtProvider.jwks_url = "https://idp.example.com/.well-known/jwks.json"  # or:
    # c.JwtProvider.public_key = "/etc/collab/idp.pem"   (RS256 / ES256 / EdDSA)
    # c.JwtProvider.secret = "…"  (HS256; or the COLLAB_JWT_SECRET environment variable)
    c.JwtProvider.audience = "collab-server"
    c.JwtProvider.issuer = "https://idp.example.com/"

Every token must carry ``exp``, ``sub``, ``aud`` and ``iss`` (checked with ``leeway`` seconds
of clock skew). What its holder may do comes from the ``collab`` claim (``grants_claim``)::

    "collab": {"admin": false, "execute": false,
               "grants": [{"path": "team-a", "role": "editor"},
                          {"path": "shared/handbook.ipynb", "role": "viewer"}]}

Roles are those of local accounts (viewer, commenter, editor, owner). ``name`` (``name_claim``)
is the name collaborators see.

Algorithms follow the key: a shared secret allows only HS256/384/512, a public key or JWKS only
asymmetric ones, and ``none`` never — so a token signed with the public key as an HMAC
secret (the classic key-confusion attack) is refused. JWKS keys are fetched off the event loop,
cached for ``jwks_cache_seconds``, and fetched again when a token names an unknown key id
(key rotation), at most once per ``jwks_min_refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.request
from collections import OrderedDict
from typing import Any

import jwt
from traitlets import Float, Unicode, default
from traitlets.config import LoggingConfigurable

from .provider import decide_by_roles, strongest_role

HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"]
ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                         "ES256", "ES384", "ES512", "EdDSA"]  # fmt: skip
_CACHE_SIZE = 10_000


class JwtConfigError(ValueError):
    """The provider's configuration cannot work; the message says what to set."""


class _Jwks:
    """A JWKS document fetched on demand, cached, refreshed for unknown key ids."""

    def __init__(self, url: str, lifespan: float, min_refresh: float) -> None:
        self.url = url
        self.lifespan = lifespan
        self.min_refresh = min_refresh
        self.keys: dict[str | None, Any] = {}
        self.fetched_at = -1e18
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> Any | None:
        """The key with id ``kid`` (blocking: call it from a worker thread)."""
        with self._lock:
            age = time.monotonic() - self.fetched_at
            if age > self.lifespan or (kid not in self.keys and age > self.min_refresh):
                self._fetch()
            return self.keys.get(kid)

    def _fetch(self) -> None:
        with urllib.request.urlopen(self.url, timeout=5) as response:
            document = json.loads(response.read())
        keys: dict[str | None, Any] = {}
        for entry in document.get("keys", []):
            try:
                key = jwt.PyJWK.from_dict(entry)
            except jwt.PyJWTError:
                continue  # a key type we cannot use (or an encryption key): skip it
            keys[key.key_id] = key
        self.keys = keys
        self.fetched_at = time.monotonic()


class JwtProvider(LoggingConfigurable):
    """Verifies JWTs from an identity provider; grants come from a claim (module docstring)."""

    secret = Unicode(help="HMAC secret for HS256/384/512 (or COLLAB_JWT_SECRET).").tag(config=True)
    public_key = Unicode(help="PEM public key, or the path of a PEM file.").tag(config=True)
    jwks_url = Unicode(help="URL of the identity provider's JWKS document.").tag(config=True)
    audience = Unicode(help="Required 'aud' of every token.").tag(config=True)
    issuer = Unicode(help="Required 'iss' of every token.").tag(config=True)
    leeway = Float(30.0, help="Seconds of clock skew allowed on exp/nbf/iat.").tag(config=True)
    grants_claim = Unicode("collab", help="The claim holding admin/execute/grants.").tag(
        config=True
    )
    name_claim = Unicode("name", help="The claim with the name collaborators see.").tag(config=True)
    jwks_cache_seconds = Float(300.0, help="How long fetched JWKS keys are trusted.").tag(
        config=True
    )
    jwks_min_refresh_seconds = Float(
        30.0, help="Fetch the JWKS again for an unknown key id at most this often."
    ).tag(config=True)

    @default("secret")
    def _default_secret(self) -> str:
        return os.environ.get("COLLAB_JWT_SECRET", "")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        sources = [bool(self.secret), bool(self.public_key), bool(self.jwks_url)]
        if sum(sources) != 1:
            raise JwtConfigError(
                "Set exactly one of JwtProvider.secret, JwtProvider.public_key and "
                "JwtProvider.jwks_url"
            )
        if not self.audience or not self.issuer:
            raise JwtConfigError("Set JwtProvider.audience and JwtProvider.issuer")
        self.algorithms = HMAC_ALGORITHMS if self.secret else ASYMMETRIC_ALGORITHMS
        self._key: Any = None
        self._jwks: _Jwks | None = None
        if self.secret:
            if len(self.secret.encode()) < 32:
                raise JwtConfigError("JwtProvider.secret must be at least 32 bytes")
            self._key = self.secret
        elif self.public_key:
            text = self.public_key
            if "-----BEGIN" not in text:
                with open(os.path.expanduser(text), encoding="utf-8") as f:
                    text = f.read()
            self._key = text
        else:
            self._jwks = _Jwks(
                self.jwks_url, self.jwks_cache_seconds, self.jwks_min_refresh_seconds
            )
        self._cache: OrderedDict[str, tuple[dict[str, Any] | None, float]] = OrderedDict()

    # -- verification ----------------------------------------------------------------------

    def _decode(self, token: str) -> dict[str, Any] | None:
        """The verified claims of ``token``, or None. Blocking (JWKS fetch): worker thread."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self.algorithms:
                return None
            key = self._key
            if self._jwks is not None:
                jwk = self._jwks.key_for(header.get("kid"))
                if jwk is None:
                    return None
                key = jwk.key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except (jwt.PyJWTError, ValueError, OSError) as e:
            # Never log the token; the reason is enough to debug a configuration.
            self.log.info("Refused a JWT: %s", type(e).__name__)
            return None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            return None
        return claims

    async def claims(self, token: str) -> dict[str, Any] | None:
        """Verified claims, cached until the token expires (or briefly, for a bad token)."""
        if not token or token.count(".") != 2:
            return None
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None and cached[1] > now:
            self._cache.move_to_end(token)
            return cached[0]
        claims = await asyncio.to_thread(self._decode, token)
        until = min(float(claims["exp"]) + self.leeway, now + 300) if claims else now + 5
        self._cache[token] = (claims, until)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return claims

    # -- the provider interface ------------------------------------------------------------

    async def persistent_id(self, token: str) -> str | None:
        claims = await self.claims(token)
        return str(claims["sub"]) if claims else None

    async def allowed(self, token: str, action: str, resource: str) -> bool:
        claims = await self.claims(token)
        if claims is None:
            return False
        collab = claims.get(self.grants_claim)
        if not isinstance(collab, dict):
            collab = {}
        grants = [
            (g["path"], g["role"])
            for g in collab.get("grants") or []
            if isinstance(g, dict) and isinstance(g.get("path"), str)
            and isinstance(g.get("role"), str)
        ]  # fmt: skip
        return decide_by_roles(
            action,
            resource,
            is_admin=collab.get("admin") is True,
            may_execute=collab.get("execute") is True,
            role_on=lambda path: strongest_role(grants, path),
        )

    async def identity(self, token: str) -> dict[str, Any]:
        claims = await self.claims(token) or {}
        name = claims.get(self.name_claim)
        return {"name": name, "display_name": name} if isinstance(name, str) and name else {}

    async def kernel_env(self, token: str) -> dict[str, str]:
        """``JUPYTER_AUTH_ID`` (the ``sub``) only: the JWT is the person's credential for the
        identity provider's other services, and a shared kernel is readable by the room."""
        claims = await self.claims(token)
        return {"JUPYTER_AUTH_ID": str(claims["sub"])} if claims else {}
