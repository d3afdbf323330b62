"""Talking to the server: where it is, who we are, one JSON request at a time (httpx).

This module owns the client's configuration and its secret. The token lives in a
:class:`Secret` (whose ``repr`` and ``str`` are ``***``) and is sent only as an
``Authorization`` header, added per request by :class:`_TokenAuth`: never in a URL, so
httpx's own exceptions (which quote the URL) cannot carry it, and never in a message of ours.

Configuration, first found wins:

* URL: the ``url`` argument, else ``COLLAB_SERVER_URL`` (a kernel started by the server has
  it: the server puts its own loopback URL there);
* token: the ``token`` argument, else ``COLLAB_SERVER_TOKEN`` (set by the person), else
  ``JUPYTER_AUTH_TOKEN`` (set by an authorization provider whose ``kernel_env`` gives the
  person's token to their kernels). The built-in providers give none: a shared kernel is
  readable by everyone who may run code in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from .errors import ClientError, TokenRefused, error_for, scrub

URL_VARIABLE = "COLLAB_SERVER_URL"
TOKEN_VARIABLES = ("COLLAB_SERVER_TOKEN", "JUPYTER_AUTH_TOKEN")


class Secret:
    """A token that does not show itself (``repr``, ``str``, f-strings, tracebacks)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # pickling would write the token out: refuse
        raise TypeError("a token is not pickled")


class _TokenAuth(httpx.Auth):
    def __init__(self, secret: Secret) -> None:
        self._secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"token {self._secret.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "_TokenAuth(***)"


def api_path(path: str) -> str:
    """A notebook path as it goes into a URL (segments escaped, no leading slash)."""
    return quote(path.strip("/"), safe="/")


class Transport:
    """One server, one identity: JSON requests with errors raised as :mod:`.errors`."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
    ) -> None:
        url = url or os.environ.get(URL_VARIABLE, "")
        if not url:
            raise ClientError(
                f"Which server? Pass url=… or set {URL_VARIABLE} (a kernel started by the "
                "server has it already)"
            )
        if token is None:
            token = next((os.environ[v] for v in TOKEN_VARIABLES if os.environ.get(v)), None)
        self.url = url.rstrip("/")
        self._secret = Secret(token) if token else None
        self._http = httpx.Client(
            base_url=self.url,
            auth=_TokenAuth(self._secret) if self._secret else None,
            timeout=timeout,
            verify=verify,
            headers={"Accept": "application/json"},
        )

    @property
    def has_token(self) -> bool:
        return self._secret is not None

    def __repr__(self) -> str:
        return f"Transport(url={self.url!r}, token={'***' if self._secret else None})"

    def close(self) -> None:
        self._http.close()

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secret.reveal() if self._secret else None)

    def response(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> httpx.Response:
        """Send one request; the response if its status is in ``ok``, else the exception."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method, "/" + path.lstrip("/"), params=clean,
                json=body if body is not None else None,
            )  # fmt: skip
        except httpx.HTTPError as e:
            # httpx's message names the URL, which never holds the token; scrub anyway.
            raise ClientError(
                self._scrub(f"Could not reach {self.url}: {type(e).__name__}: {e}")
            ) from None
        if response.status_code in ok:
            return response
        raise self._error(response)

    def _error(self, response: httpx.Response) -> ClientError:
        message = ""
        try:
            data = response.json()
            if isinstance(data, dict) and isinstance(data.get("message"), str):
                message = data["message"]
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            pass
        message = message or response.reason_phrase or f"HTTP {response.status_code}"
        if response.status_code == 401 or (
            response.status_code == 403 and message == "Forbidden" and not self._identified()
        ):
            # jupyter_server's own routes answer a refused token with a bare 403.
            if not self.has_token:
                return TokenRefused(
                    "no token was sent: pass token=…, set COLLAB_SERVER_TOKEN to one of your "
                    "API tokens, or use a provider whose kernel_env gives JUPYTER_AUTH_TOKEN",
                    401,
                )
            return TokenRefused(f"your token was refused: {self._scrub(message)}", 401)
        error = error_for(response.status_code, self._scrub(message))
        error.route_missing = _route_missing(response)
        return error

    def _identified(self) -> bool:
        """Does the server know who we are? (Tells a refused token from a refused action.)"""
        try:
            return self._http.get("/api/collab/me").status_code == 200
        except httpx.HTTPError:
            return False

    def json(self, method: str, path: str, **kw: Any) -> Any:
        response = self.response(method, path, **kw)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ClientError(
                f"The server answered {method} {path.split('?')[0]} with something not JSON",
                response.status_code,
            ) from None

    def get(self, route: str, /, **params: Any) -> Any:
        return self.json("GET", route, params=params)

    def pages(self, route: str, key: str, cursor: str, /, **params: Any) -> Iterator[Any]:
        """Every item of a listing under ``key``, paged: the answer's ``next`` is passed back
        as the ``cursor`` parameter (``offset`` or ``before``) until it is null. A listing
        that answers a ``total`` instead of a ``next`` (the search) is paged by offset until
        the total is reached or a page comes back empty."""
        while True:
            data = self.get(route, **params)
            items = data.get(key) or []
            yield from items
            if "next" in data or "total" not in data:
                following = data.get("next")
            else:
                offset = int(params.get(cursor) or 0) + len(items)
                following = offset if items and offset < int(data["total"] or 0) else None
            if following is None:
                return
            params[cursor] = following


def _route_missing(response: httpx.Response) -> bool:
    """A 404 for the route itself (this server has no such API), not for a thing in it: our
    handlers always answer JSON with a ``message`` naming what is missing."""
    if response.status_code != 404:
        return False
    try:
        data = response.json()
    except ValueError:
        return True
    return not (isinstance(data, dict) and data.get("message") not in (None, "", "Not Found"))
