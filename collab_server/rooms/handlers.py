"""The collaboration endpoints, compatible with jupyter-collaboration's wire contract.

* ``PUT /api/collaboration/session/{path}`` gives a file its stable id and returns the
  room's session id (the document's lineage). It needs ``read``, not ``write``: viewers open
  rooms too.
* ``WS /api/collaboration/room/{format}:{type}:{fileId}`` and
  ``WS /api/collaboration/room/JupyterLab:globalAwareness``.

The websocket handler authorizes *before* the upgrade (401/403/404 with no side effect: no
room is created and no file is read; 429 past a person's socket limit), then enforces per
message what the connection may do, and re-checks its rights periodically and at once when
the file moves (always against the file's *current* path, found by its id).

Besides the ``save`` reply, the server sends these RAW JSON messages:
``{"type":"error","reason":"deleted"|"invalid_file"|"too_large"|"store_unavailable",
"message"}`` (then closes), ``{"type":"renamed","path"}``, ``{"type":"save_failed",
"message"}`` and ``{"type":"saved"}``.
Handlers stay thin: rooms live in :class:`~.manager.RoomManager`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
from collections.abc import Awaitable
from typing import Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import ensure_async
from tornado import web
from tornado.websocket import WebSocketHandler, WebSocketProtocol, WebSocketProtocol13

from ..auth.jupyter import (
    is_allowed,
    provider_of,
    public_identity,
    token_from_request,
)
from ..auth.provider import permissions_revision_of, resolve
from ..core.errors import CollabError
from ..core.http import CollabHandlerMixin, json_object
from ..core.paths import normalize as normalize_api_path
from .address import RoomAddress
from .document import SUPPORTED_KINDS, DocumentKind
from .errors import InvalidFile, RoomNotFound, announced
from .manager import RoomManager
from .protocol import ProtocolError, decode_message, raw_json, websocket_frame
from .room import Room

MANAGER_SETTING = "collab_rooms"

# Seconds between full re-checks of a socket's rights when the provider reports no change.
_FULL_RECHECK = 60.0

# RFC 6455: a close reason is at most 123 bytes of UTF-8.
_MAX_CLOSE_REASON = 123


def _close_reason(text: str) -> str:
    data = text.encode("utf-8")[:_MAX_CLOSE_REASON]
    return data.decode("utf-8", errors="ignore")


def _manager(handler: web.RequestHandler) -> RoomManager:
    return handler.settings[MANAGER_SETTING]


class SessionHandler(CollabHandlerMixin, APIHandler):
    """``PUT /api/collaboration/session/{path}`` → ``{format, type, fileId, sessionId}``."""

    async def put(self, path: str) -> None:
        if self.current_user is None:
            raise web.HTTPError(401, reason="Authentication required: send a valid token")
        body = json_object(self)  # 400 for bad JSON, invalid Unicode or deep nesting
        file_format, file_type = body.get("format"), body.get("type")
        if (file_format, file_type) not in SUPPORTED_KINDS:
            supported = ", ".join(f'format "{f}" with type "{t}"' for f, t in SUPPORTED_KINDS)
            raise web.HTTPError(400, reason=f"Unsupported document kind; use {supported}")
        api_path = normalize_api_path(path)
        if api_path is None:
            raise web.HTTPError(404, reason="No such file")
        if not await is_allowed(self, "read", f"contents:{api_path}"):
            raise web.HTTPError(403, reason="You may not open this file")
        manager = _manager(self)
        if not await ensure_async(self.contents_manager.file_exists(api_path)):
            raise web.HTTPError(404, reason=f"File {api_path!r} does not exist")
        file_id, created = await manager.file_ids.ensure(api_path)
        kind = DocumentKind(str(file_format), str(file_type))
        room_id = RoomAddress.document(kind, file_id).room_id
        self.set_status(201 if created else 200)
        self.finish(
            {
                "format": file_format,
                "type": file_type,
                "fileId": file_id,
                "sessionId": manager.store.lineage(room_id),
            }
        )


class RoomHandler(WebSocketHandler, JupyterHandler):
    """One client connection to one room."""

    room: Room | None = None
    address: RoomAddress
    resource_kind: str = "contents"  # the permission resource prefix of the room's kind
    file_backed: bool = False
    file_path: str | None = None
    user: dict[str, Any]
    can_write: bool = False
    label: str = "?"
    _backlog: int = 0
    _socket_owner: str | None = None  # the person this socket is counted for

    def _resource(self, path: str) -> str:
        # ONE decision for the upgrade and every re-check: the room kind says which rights
        # govern it (a comments document: the notebook's comment rights; a file: the file's).
        return f"{self.resource_kind}:{path}"

    # -- before the upgrade: authorize with no side effect -----------------------------

    async def get(self, room_id: str, *args: Any, **kwargs: Any) -> None:
        user = self.current_user
        if user is None:
            raise web.HTTPError(401, reason="Authentication required: send a valid token")
        manager = _manager(self)
        try:
            self.address = manager.address(room_id)
        except RoomNotFound as e:
            raise web.HTTPError(e.status, reason=e.message) from e
        spec = manager.kind_of(self.address)
        if spec is not None:
            self.resource_kind, self.file_backed = spec.resource, spec.file_backed
        if self.address.file_id is not None:
            self.file_path = manager.file_ids.get_path(self.address.file_id)
            if self.file_path is None:
                raise web.HTTPError(404, reason="Unknown file id")
            resource = self._resource(self.file_path)
            if not await is_allowed(self, "read", resource):
                raise web.HTTPError(403, reason="You may not open this file")
            self.can_write = await is_allowed(self, "write", resource)
        self.user = public_identity(user)
        self.label = f"{user.username}@{self.request.remote_ip}"
        if not manager.limits.reserve(user.username):
            raise web.HTTPError(
                429,
                reason=f"Too many open connections ({manager.limits.limit}) for one"
                " person; close some tabs and try again",
            )
        self._socket_owner = user.username
        try:
            await super().get(room_id, *args, **kwargs)
        finally:
            if self.ws_connection is None and not self._on_close_called:
                self._release_socket()  # the upgrade did not happen

    def _release_socket(self) -> None:
        owner, self._socket_owner = self._socket_owner, None
        if owner is not None:
            _manager(self).limits.release(owner)

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        protocol = super().get_websocket_protocol()
        if isinstance(protocol, WebSocketProtocol13):
            protocol.__class__ = _SizeReportingProtocol
        return protocol

    def check_origin(self, origin: str = "") -> bool:
        # tornado's rule: a browser page may only open a socket to the host it came from —
        # whatever the credential, and above all for the session cookie, which a browser
        # would send along from any site. Clients that are not browsers send no Origin.
        return WebSocketHandler.check_origin(self, origin)

    @property
    def max_message_size(self) -> int:  # type: ignore[override]
        # Tornado closes the socket with 1009 (message too big) above this.
        return _manager(self).max_message_size

    def get_compression_options(self) -> None:
        return None  # pre-framed broadcasts (see send) rely on uncompressed frames

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": self._reason, "reason": self._reason}))

    # -- after the upgrade --------------------------------------------------------------

    async def open(self, room_id: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.set_nodelay(True)  # Nagle's algorithm adds ~40 ms to small frames
        manager = _manager(self)
        if self.file_backed:
            session_id = self.get_query_argument("sessionId", None)
            lineage = manager.store.lineage(self.address.room_id)
            if session_id and session_id != lineage:
                # The client's document comes from another history of this file; merging it
                # would duplicate cells. It must reload.
                self.close(
                    1003,
                    _close_reason(json.dumps({"reason": "unknown_session", "reloadable": True})),
                )
                return
        try:
            room = await manager.open(self.address, self.file_path)
        except CollabError as e:
            self._close_for(e)
            return
        if self.ws_connection is None or self.ws_connection.is_closing():
            manager.release(room)
            return
        self.room = room
        room.join(self)
        self._reauthorizer = asyncio.ensure_future(self._reauthorize_periodically())

    def _close_for(self, error: CollabError) -> None:
        """The one mapping from a room error to what the client is told: a RAW error first
        for the reasons a page acts on, then the close code the error carries."""
        self.log.warning("Cannot open %s for %s: %s", self.file_path, self.label, error.message)
        if announced(error):
            message = error.message
            if isinstance(error, InvalidFile):
                kind = self.address.kind
                what = "notebook" if kind is not None and kind.is_notebook else "file"
                message = f"This file is not a valid {what}: {message}"
            self.send(raw_json({"type": "error", "reason": error.reason, "message": message}))
            reason = json.dumps({"reason": error.reason})
        else:
            reason = error.message
        self.close(error.close, _close_reason(reason))

    def path_may_have_changed(self) -> None:
        """A file moved somewhere: if it was this connection's file (its path, found by its
        id, changed), its rights are re-checked now; otherwise the wake-up costs nothing."""
        wake = getattr(self, "_wake", None)
        if wake is not None and self.address.file_id is not None:
            wake.set()

    async def _reauthorize_periodically(self) -> None:
        """Re-check this connection's rights, so revoking a token or a share — or moving the
        file somewhere its reader may not go — takes effect on open sockets too: no longer
        readable → closed; no longer writable → read-only. Rights are always checked against
        the file's current path (found by its id), never the path seen at connect time."""
        manager = _manager(self)
        interval = manager.reauthorize_interval
        provider = provider_of(self)
        token = token_from_request(self)
        # A provider that can say when rights changed spares a check per socket per interval;
        # a full check still runs every minute for rights that lapse with time (expiry).
        revision = permissions_revision_of(provider)
        seen = revision() if callable(revision) else None
        checked_at = time.monotonic()
        self._wake = asyncio.Event()
        while self.room is not None:
            if interval > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
            else:
                await self._wake.wait()
            self._wake.clear()
            if self.room is None:
                return
            forced = False
            path = self.file_path
            if self.address.file_id is not None:
                path = manager.file_ids.get_path(self.address.file_id)
                if path is None:
                    continue  # deleted: the room closes this connection itself
                forced = forced or path != self.file_path
            if callable(revision) and not forced:
                current = revision()
                if current == seen and time.monotonic() - checked_at < _FULL_RECHECK:
                    continue
                seen, checked_at = current, time.monotonic()
            try:
                user_id = await resolve(provider.persistent_id(token))
                readable = user_id == self.user["username"] and (
                    path is None or await is_allowed(self, "read", self._resource(path))
                )
                writable = readable and (
                    path is not None and await is_allowed(self, "write", self._resource(path))
                )
            except Exception:  # a provider outage must not look like a revocation
                self.log.exception("Re-checking the rights of %s failed", self.label)
                continue
            if self.room is None:
                return
            if not readable:
                self.log.info("Closing %s: access revoked", self.label)
                self.close(4403, "Access revoked")
                return
            if writable != self.can_write:
                self.log.info("%s may %s write", self.label, "now" if writable else "no longer")
                self.can_write = writable
            if path is not None and path != self.file_path:
                # Only connections still allowed learn the new name.
                self.file_path = path
                self.send(raw_json({"type": "renamed", "path": path}))

    def on_message(self, message: str | bytes) -> None:
        room = self.room
        if room is None:
            return
        if isinstance(message, str):
            self.close(1003, "Text frames are not part of the protocol; send binary frames")
            return
        try:
            pending = room.handle(self, decode_message(message))
        except ProtocolError as e:
            self.log.warning("Closing %s in %s: %s", self.label, room.room_id, e)
            self.close(1002, _close_reason(f"Protocol error: {e}"))
            return
        if pending is not None:
            task = asyncio.ensure_future(pending)
            task.add_done_callback(_log_failure)

    def on_close(self) -> None:
        self._release_socket()
        reauthorizer = getattr(self, "_reauthorizer", None)
        if reauthorizer is not None:
            reauthorizer.cancel()
        room, self.room = self.room, None
        if room is not None:
            room.leave(self)
            _manager(self).release(room)

    def message_too_large(self, size: int | None) -> None:
        """Called just before tornado closes the socket (1009) for a message above the limit."""
        limit = self.max_message_size
        room = self.room.room_id if self.room is not None else self.address.room_id
        shown = f"{size} bytes" if size is not None else "more"
        self.log.warning(
            "Closing %s in %s: a message of %s is above the limit of %d bytes (1009)",
            self.label,
            room,
            shown,
            limit,
        )
        mb = f"{size / 1e6:.1f} MB" if size is not None else "too large"
        self.send(
            raw_json(
                {
                    "type": "error",
                    "reason": "too_large",
                    "limit": limit,
                    "message": f"This change is too large to save ({mb}; the limit is"
                    f" {limit / 1e6:.1f} MB).",
                }
            )
        )

    # -- the Connection protocol used by rooms -------------------------------------------

    def send(self, message: bytes, wire: bytes | None = None) -> None:
        """Queue ``message`` (``wire``: its websocket frame, when a broadcast framed it once
        for every connection); a client that falls too far behind is disconnected, not
        waited for."""
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            return
        limit = _manager(self).max_client_backlog
        if self._backlog + len(message) > limit:
            self.log.warning(
                "Disconnecting %s: more than %d bytes unsent (client too slow)", self.label, limit
            )
            self.close(1013, "Client too slow to keep up; reconnect to resync")
            return
        # Written as a pre-built frame (tornado's write_message would build one per socket).
        if wire is None:
            wire = websocket_frame(message)
        try:
            future = connection.stream.write(wire)  # type: ignore[union-attr]
        except Exception:  # StreamClosedError: the close handler cleans up
            return
        size = len(wire)
        self._backlog += size

        def written(f: Any) -> None:
            self._backlog -= size
            f.exception()  # retrieve it: a closed socket is not an error worth logging

        future.add_done_callback(written)


class _SizeReportingProtocol(WebSocketProtocol13):
    """tornado's protocol, telling the person why a message above ``max_message_size`` was
    refused instead of dropping it silently.

    tornado checks the size from the frame header and calls ``close(1009, …)`` before it
    reads the payload. We remember the length field it read last (the 2 or 8 bytes after
    the header), so the log line and the message can give the size.
    """

    _length_read: Any = None  # the stream's future of the last 2- or 8-byte read

    def _read_bytes(self, n: int) -> Awaitable[bytes]:  # type: ignore[override]
        # Not a coroutine: the frame loop awaits the stream's future itself (a wrapping
        # coroutine would cost each of a message's three or four reads one more frame).
        read = self.stream.read_bytes(n)
        self._wire_bytes_in += n
        if n in (2, 8):
            self._length_read = read
        return read

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        handler = self.handler
        if code == 1009 and isinstance(handler, RoomHandler) and not self.client_terminated:
            handler.message_too_large(self._declared_size())
            reason = json.dumps({"reason": "too_large"})
        super().close(code, reason)

    def _declared_size(self) -> int | None:
        read = self._length_read
        done = isinstance(read, asyncio.Future) and read.done() and not read.cancelled()
        field = read.result() if done and read.exception() is None else b""
        size = struct.unpack("!H" if len(field) == 2 else "!Q", field)[0] if field else None
        if size is not None and self._fragmented_message_buffer is not None:
            size += len(self._fragmented_message_buffer)
        return size


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        import logging

        logging.getLogger("collab_server").error(
            "A websocket task failed", exc_info=task.exception()
        )
