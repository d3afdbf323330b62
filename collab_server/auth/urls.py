"""Where the server may send a browser next: same-origin paths only (pure, no I/O).

Every redirect whose target comes from the request (``/login?next=``, the address a ``?token=``
sign-in returns to) goes through :func:`safe_next`, so no request can make this server send a
browser to another site (an open redirect, which phishing and sign-in CSRF build on).
"""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(url: str | None, base_url: str = "/") -> str:
    """``url`` if it is a path on this server under ``base_url``, else ``base_url``.

    Refused: anything with a scheme or a host (``https://evil``, ``//evil``), a backslash
    (browsers read ``/\\evil`` as ``//evil``), control characters or spaces (browsers strip
    tabs and newlines, so ``/\\t/evil`` becomes ``//evil``), and paths outside ``base_url``.
    """
    base = base_url if base_url.endswith("/") else base_url + "/"
    if not url or not isinstance(url, str) or len(url) > 2000:
        return base
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        return base
    if not url.startswith("/") or url.startswith("//"):
        return base
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return base
    if not (url + "/").startswith(base) and not url.startswith(base):
        return base
    return url
