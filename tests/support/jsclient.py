"""Drive the Node client (y-websocket + @jupyter/ydoc, what JupyterLab runs) from Python."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from pathlib import Path
from typing import Any

CLIENT = Path(__file__).resolve().parent.parent / "js" / "client.mjs"


class JsClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._ids = itertools.count(1)

    @classmethod
    async def start(cls) -> JsClient:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(CLIENT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=str(CLIENT.parent),
        )
        return cls(process)

    async def call(self, cmd: str, timeout: float = 20, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        request_id = next(self._ids)
        line = json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n"
        self.process.stdin.write(line.encode())
        await self.process.stdin.drain()
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not raw:
                raise RuntimeError("the JS client exited")
            reply = json.loads(raw)
            if reply.get("id") == request_id:
                if not reply["ok"]:
                    raise RuntimeError(f"JS client: {reply['error']}")
                return reply

    async def connect(
        self, server: Any, file_id: str, session_id: str, token: str, kind: str = "notebook"
    ) -> None:
        room = f"json:notebook:{file_id}" if kind == "notebook" else f"text:file:{file_id}"
        await self.call(
            "connect",
            url=f"{server.ws_url}/api/collaboration/room",
            room=room,
            params={"sessionId": session_id, "token": token},
            kind=kind,
        )

    async def content(self) -> Any:
        return (await self.call("get"))["content"]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.call("exit", timeout=5)
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
