"""A Python collaboration client: pycrdt documents over a real websocket.

It speaks the y-websocket protocol with pycrdt's own sync helpers, so it checks the server
against an implementation that is not ours. It never echoes updates it received (the trap
of pycrdt's ``Provider``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable
from typing import Any

import httpx
import websockets
from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Doc, Text, TransactionEvent, create_sync_message, handle_sync_message

from collab_server.rooms.protocol import (
    AwarenessEntry,
    MessageType,
    Reader,
    awareness_frame,
    decode_awareness,
    encode_awareness,
    save_request,
)


async def open_session(
    http_url: str, path: str, token: str, kind: tuple[str, str] = ("json", "notebook")
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.put(
            f"{http_url}/api/collaboration/session/{path}",
            json={"format": kind[0], "type": kind[1]},
            headers={"Authorization": f"token {token}"},
        )


class YClient:
    def __init__(self) -> None:
        self.doc: Doc = Doc()
        self.ws: Any = None
        self.url = ""
        self.file_id = ""  # set by connect() (from the session endpoint)
        self.session_id = ""
        self.synced = asyncio.Event()
        self.closed = asyncio.Event()
        self.awareness: dict[int, dict[str, Any] | None] = {}
        self.save_replies: dict[int, dict[str, Any]] = {}
        self.raw_messages: list[Any] = []
        self._applying = False
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[bytes | str] = asyncio.Queue()
        self._observing = False
        self._clock = 0
        self.received_frames = 0
        self.step2_received = 0  # SYNC STEP2 frames (answers to our STEP1s) so far

    @classmethod
    async def connect(
        cls,
        server: Any,
        path: str,
        token: str = "alice-token",
        kind: tuple[str, str] = ("json", "notebook"),
        session_id: str | None = None,
        wait_synced: bool = True,
    ) -> YClient:
        r = await open_session(server.http_url, path, token, kind)
        r.raise_for_status()
        info = r.json()
        room = f"{kind[0]}:{kind[1]}:{info['fileId']}"
        sid = session_id if session_id is not None else info["sessionId"]
        client = cls()
        client.file_id = info["fileId"]
        client.session_id = info["sessionId"]
        await client.open(
            f"{server.ws_url}/api/collaboration/room/{room}?sessionId={sid}&token={token}"
        )
        if wait_synced:
            await asyncio.wait_for(client.synced.wait(), 10)
        return client

    async def open(self, url: str) -> None:
        self.url = url
        self.ws = await websockets.connect(url, max_size=None)
        if not self._observing:
            self.doc.observe(self._on_local_change)
            self._observing = True
        self.synced = asyncio.Event()
        self.closed = asyncio.Event()
        self._outbox = asyncio.Queue()
        if self._writer is not None:
            self._writer.cancel()
        self._writer = asyncio.create_task(self._write())
        self._reader = asyncio.create_task(self._read())
        await self._send(create_sync_message(self.doc))  # the server may already have closed

    async def reconnect(self, url: str | None = None) -> None:
        """Connect again with the same document (and whatever was edited while offline)."""
        await self.open(url or self.url)
        await asyncio.wait_for(self.synced.wait(), 10)

    # -- views --------------------------------------------------------------------------

    @property
    def notebook(self) -> YNotebook:
        return YNotebook(self.doc)

    def content(self) -> Any:
        return self.notebook.get()

    def text(self, cell: int) -> str:
        return str(self.notebook.ycells[cell]["source"])

    def file_text(self) -> str:
        return YUnicode(self.doc).get()

    # -- edits (positions are in code points; pycrdt wants UTF-8 bytes) ------------------

    def insert(self, cell: int, position: int | None, text: str) -> None:
        ytext: Text = self.notebook.ycells[cell]["source"]
        current = str(ytext)
        position = len(current) if position is None else position
        ytext.insert(len(current[:position].encode("utf-8")), text)

    def delete(self, cell: int, start: int, end: int) -> None:
        ytext: Text = self.notebook.ycells[cell]["source"]
        current = str(ytext)
        a = len(current[:start].encode("utf-8"))
        b = len(current[:end].encode("utf-8"))
        del ytext[a:b]

    def append_cell(self, source: str, cell_type: str = "code") -> None:
        cell: dict[str, Any] = {"cell_type": cell_type, "source": source, "metadata": {}}
        if cell_type == "code":
            cell.update(outputs=[], execution_count=None)
        self.notebook.append_cell(cell)

    # -- protocol -----------------------------------------------------------------------

    def _on_local_change(self, event: TransactionEvent) -> None:
        if self._applying or self.ws is None or self.closed.is_set():
            return  # offline edits are sent by the sync handshake on reconnect
        from pycrdt import create_update_message

        # Queued, not sent from a new task: frames must leave in the order they were made
        # (an edit, then the save request that expects it).
        self._outbox.put_nowait(create_update_message(event.update))

    async def _write(self) -> None:
        while True:
            frame = await self._outbox.get()
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(frame)
            self._outbox.task_done()

    async def _send(self, frame: bytes | str) -> None:
        self._outbox.put_nowait(frame)
        await self._outbox.join()

    async def send_raw(self, frame: bytes | str) -> None:
        await self._send(frame)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self.received_frames += 1
                if isinstance(frame, str):
                    continue
                kind = frame[0]
                if kind == MessageType.SYNC:
                    self._applying = True
                    try:
                        reply = handle_sync_message(frame[1:], self.doc)
                    finally:
                        self._applying = False
                    if reply is not None:
                        await self._send(reply)
                    if frame[1] == 1:
                        self.step2_received += 1
                        self.synced.set()
                elif kind == MessageType.AWARENESS:
                    reader = Reader(frame[1:])
                    for entry in decode_awareness(reader.var_bytes()):
                        self.awareness[entry.client_id] = entry.state
                elif kind == MessageType.RAW:
                    import json

                    reader = Reader(frame[1:])
                    payload = json.loads(reader.var_string())
                    self.raw_messages.append(payload)
                    if payload.get("type") == "save":
                        self.save_replies[payload["responseTo"]] = payload
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def barrier(self, timeout: float = 10) -> None:
        """Return once the server has handled every frame this client sent before the call.

        Sends a SYNC STEP1 and waits for the server's STEP2 answer: the server handles one
        socket's frames in order and answers a STEP1 only after the updates before it are
        stored and broadcast. So, after ``x.barrier()``, whatever the server did with ``x``'s
        earlier frames is done (and sent to the other clients, ahead of anything it sends them
        later); after ``y.barrier()`` too, client ``y`` has received all of that. This is how a
        test proves a negative ("X never arrived") without sleeping. The answer itself brings
        this client anything of the document it lacked.
        """
        answered = self.step2_received
        await self._send(create_sync_message(self.doc))
        await wait_until(lambda: self.step2_received > answered, timeout, interval=0.005)

    async def save(self, request_id: int = 1, timeout: float = 10) -> dict[str, Any]:
        await self._send(save_request(request_id))
        await wait_until(lambda: request_id in self.save_replies, timeout)
        return self.save_replies[request_id]

    async def set_awareness(
        self, state: dict[str, Any] | None, client_id: int | None = None
    ) -> None:
        self._clock += 1
        entry = AwarenessEntry(client_id or self.doc.client_id, self._clock, state)
        await self._send(awareness_frame(encode_awareness([entry])))

    def raw_of_type(self, kind: str) -> list[dict[str, Any]]:
        """The RAW JSON messages of one ``type`` received so far."""
        return [m for m in self.raw_messages if isinstance(m, dict) and m.get("type") == kind]

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code if self.ws is not None else None

    @property
    def close_reason(self) -> str:
        return self.ws.close_reason if self.ws is not None else ""

    async def wait_closed(self, timeout: float = 10) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._outbox.join(), 5)
            self._writer.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.02
) -> Any:
    """Poll ``predicate`` (a function, or a coroutine function such as a REST check: asked
    at most ten times a second) until it is truthy; fail the test after ``timeout`` seconds
    (generous: it only delays a test that fails anyway)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        pause = interval
        if inspect.isawaitable(value):
            value = await value
            pause = max(interval, 0.1)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(pause)
