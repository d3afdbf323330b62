"""The JWT provider against a real server and a real JWKS endpoint: every way a token can be
wrong is refused with 401, key rotation works, grants come from the claim, people are named by
the name claim (not the ``sub``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support.notebooks import write_notebook
from support.server import ServerProcess
from support.yclient import YClient

ISSUER = "https://idp.test/"
AUDIENCE = "collab-server"


class Jwks:
    """A JWKS endpoint whose keys the test can rotate."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_port}/jwks.json"

    def publish(self, *keys: tuple[str, Any]) -> None:
        entries = []
        for kid, private_key in keys:
            entry = json.loads(jwt.algorithms.get_default_algorithms()[_alg(private_key)].to_jwk(
                private_key.public_key()))  # fmt: skip
            entry.update({"kid": kid, "use": "sig"})
            entries.append(entry)
        self.document = {"keys": entries}


def _alg(key: Any) -> str:
    return "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "sub": "u-123",
        "name": "Jo Tester",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 600,
        "iat": int(time.time()),
        "collab": {"grants": [{"path": "team-a", "role": "editor"}]},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, kid: str, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=_alg(key), headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A token built by hand, as an attacker would (libraries refuse to make these)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture(scope="module")
def idp(tmp_path_factory) -> Any:
    jwks = Jwks()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks.publish(("rsa-1", rsa_key), ("ec-1", ec_key))
    server = ServerProcess(
        tmp_path_factory.mktemp("jwt"),
        provider="collab_server.auth.jwt_tokens.JwtProvider",
        ready_token=sign(rsa_key, "rsa-1", collab={"admin": True}),
        extra_args=[
            f"--JwtProvider.jwks_url={jwks.url}",
            f"--JwtProvider.audience={AUDIENCE}",
            f"--JwtProvider.issuer={ISSUER}",
            "--JwtProvider.jwks_min_refresh_seconds=0",
            "--JwtProvider.leeway=1",
        ],
    )
    write_notebook(server.root, ["for team a"], "team-a/doc.ipynb")
    write_notebook(server.root, ["for team b"], "team-b/doc.ipynb")
    server.start()
    yield {"server": server, "jwks": jwks, "rsa": rsa_key, "ec": ec_key}
    server.stop()
    jwks.http.shutdown()


def get(server: ServerProcess, token: str | None, path: str = "team-a/doc.ipynb") -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"{server.http_url}/api/contents/{path}", headers=headers).status_code


def test_valid_tokens_work_with_grants_from_the_claim(idp):
    server = idp["server"]
    for token in (sign(idp["rsa"], "rsa-1"), sign(idp["ec"], "ec-1")):
        assert get(server, token) == 200
        assert get(server, token, "team-b/doc.ipynb") == 403
    me = httpx.get(
        f"{server.http_url}/api/collab/me?path=team-a/doc.ipynb",
        headers={"Authorization": f"Bearer {sign(idp['rsa'], 'rsa-1')}"},
    ).json()
    assert me["identity"]["username"] == "u-123"
    assert me["identity"]["display_name"] == "Jo Tester"
    assert me["permissions"]["write"] is True and me["permissions"]["share"] is False


def test_every_kind_of_bad_token_is_refused(idp):
    server, key = idp["server"], idp["rsa"]
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "garbage": "not-a-jwt",
        "expired": sign(key, "rsa-1", exp=int(time.time()) - 3600),
        "alg none": handmade({"alg": "none", "typ": "JWT"}, claims(), None),
        "HS256 signed with the public key": handmade(
            {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), public_pem
        ),
        "wrong audience": sign(key, "rsa-1", aud="someone-else"),
        "wrong issuer": sign(key, "rsa-1", iss="https://evil.test/"),
        "no exp": sign(key, "rsa-1", exp=None),
        "no sub": sign(key, "rsa-1", sub=None),
        "signed by another key": jwt.encode(claims(), other_key, "RS256", headers={"kid": "rsa-1"}),
        "unknown key id": jwt.encode(claims(), other_key, "RS256", headers={"kid": "nope"}),
        "tampered claims": _tamper(sign(key, "rsa-1")),
    }
    for what, token in bad.items():
        assert get(server, token) == 401, what
    assert get(server, None) in (401, 403)
    log = server.log()
    for token in bad.values():
        assert token not in log


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["collab"] = {"admin": True}
    return f"{header}.{b64(json.dumps(data).encode())}.{signature}"


def test_key_rotation_is_picked_up_without_a_restart(idp):
    server, jwks = idp["server"], idp["jwks"]
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = sign(new_key, "rsa-2")
    assert get(server, token) == 401  # not published yet
    jwks.publish(("rsa-1", idp["rsa"]), ("ec-1", idp["ec"]), ("rsa-2", new_key))
    assert get(server, sign(new_key, "rsa-2", iat=int(time.time()) + 1)) == 200


def test_running_code_needs_the_execute_claim(idp):
    server = idp["server"]
    plain = sign(idp["rsa"], "rsa-1")
    runner = sign(idp["rsa"], "rsa-1", collab={"execute": True, "grants": []})
    for token, expected in ((plain, 403), (runner, 200)):
        r = httpx.get(
            f"{server.http_url}/api/kernels", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == expected


def test_the_gallery_names_an_owner_by_the_name_claim_not_the_sub(idp):
    server = idp["server"]
    url, path = server.http_url, "team-a/named.ipynb"
    nameless = sign(idp["rsa"], "rsa-1", name=None)  # same person, a token without "name"
    # Saved through the server with a token that names her: she owns it.
    body = {
        "type": "notebook",
        "format": "json",
        "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    }
    headers = {"Authorization": f"Bearer {sign(idp['rsa'], 'rsa-1')}"}
    assert httpx.put(f"{url}/api/contents/{path}", json=body, headers=headers).status_code == 201
    # A token without the claim afterwards does not make her a number again.
    assert get(server, nameless, path) == 200
    deadline = time.monotonic() + 30
    while True:
        results = httpx.get(
            f"{url}/api/collab/search", headers={"Authorization": f"Bearer {nameless}"}
        ).json()["results"]
        found = [(r["owner"], r["owner_name"]) for r in results if r["path"] == path]
        if found and found[0][0]:
            break
        assert time.monotonic() < deadline, results
        time.sleep(0.1)  # polling the index (it follows saves in the background)
    assert found == [("u-123", "Jo Tester")]


async def test_an_expiring_token_closes_its_socket(idp):
    server = idp["server"]
    token = sign(idp["rsa"], "rsa-1", exp=int(time.time()) + 2)  # this server's leeway: 1 s
    client = await YClient.connect(server, "team-a/doc.ipynb", token=token)
    try:
        assert await client.wait_closed(10) == 4403
    finally:
        await client.close()


def test_hs256_secret_server_refuses_asymmetric_tokens(tmp_path, idp):
    secret = "a-shared-secret-of-at-least-32-bytes!"
    good = jwt.encode(claims(collab={"admin": True}), secret, algorithm="HS256")
    server = ServerProcess(
        tmp_path,
        provider="collab_server.auth.jwt_tokens.JwtProvider",
        ready_token=good,
        extra_args=[
            f"--JwtProvider.secret={secret}",
            f"--JwtProvider.audience={AUDIENCE}",
            f"--JwtProvider.issuer={ISSUER}",
        ],
    )
    write_notebook(server.root, ["x"], "team-a/doc.ipynb")
    server.start()
    try:
        assert get(server, good) == 200
        assert get(server, sign(idp["rsa"], "rsa-1")) == 401
        assert (
            get(server, jwt.encode(claims(), "another-secret-of-at-least-32-bytes", "HS256")) == 401
        )
        assert secret not in server.log()
    finally:
        server.stop()


def test_a_misconfigured_jwt_provider_stops_the_server(tmp_path):
    server = ServerProcess(
        tmp_path, provider="collab_server.auth.jwt_tokens.JwtProvider", ready_token=None
    )
    with pytest.raises(RuntimeError, match="exited early"):
        server.start()
    assert "Set exactly one of JwtProvider.secret" in server.log()
