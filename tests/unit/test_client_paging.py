"""The client's one paging helper (``Transport.pages``) against a real HTTP server on
127.0.0.1 serving the two listing styles of the API: a ``next`` cursor (versions, executions,
activity) and a ``total`` with offsets (search)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from collab_server.client.transport import Transport

ITEMS = [{"id": f"v{i:03d}"} for i in range(25)]


class _Listing(BaseHTTPRequestHandler):
    requests: list[dict[str, str]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append(query)
        limit = int(query.get("limit", "10"))
        body: dict[str, Any]
        if url.path == "/cursor":  # newest first, ``before`` the last id seen
            before = query.get("before")
            rest = sorted(
                (i for i in ITEMS if before is None or i["id"] < before),
                key=lambda i: i["id"],
                reverse=True,
            )
            page = rest[:limit]
            body = {"versions": page, "next": page[-1]["id"] if len(rest) > limit else None}
        else:  # offsets and a total
            offset = int(query.get("offset", "0"))
            body = {"total": len(ITEMS), "results": ITEMS[offset : offset + limit]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def transport() -> Iterator[Transport]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Listing)
    # (A short poll interval: shutting down waits for at most one.)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    client = Transport(f"http://127.0.0.1:{server.server_address[1]}", "t")
    try:
        yield client
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_pages_follow_next_until_null(transport: Transport) -> None:
    _Listing.requests.clear()
    found = list(transport.pages("cursor", "versions", "before", limit=10))
    assert [i["id"] for i in found] == sorted((i["id"] for i in ITEMS), reverse=True)
    assert [r.get("before") for r in _Listing.requests] == [None, "v015", "v005"]


def test_pages_by_offset_until_the_total(transport: Transport) -> None:
    _Listing.requests.clear()
    found = list(transport.pages("search", "results", "offset", limit=10, offset=0))
    assert found == ITEMS
    # Three pages; none asked past the total.
    assert [r["offset"] for r in _Listing.requests] == ["0", "10", "20"]
