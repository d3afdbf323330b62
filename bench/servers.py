"""The two servers under test, started the same way: ours and stock jupyter-collaboration."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process on 127.0.0.1 with its own root directory."""

    name = "?"

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def room_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/collaboration/room"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Server:
        env = dict(os.environ)
        env.update(
            {
                "COLLAB_SERVER_TOKEN": TOKEN,
                "JUPYTER_CONFIG_DIR": str(self.base / "config"),
                "JUPYTER_DATA_DIR": str(self.base / "data"),
                "JUPYTER_RUNTIME_DIR": str(self.base / "runtime"),
            }
        )
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            self.command(), env=env, cwd=self.base, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.base / 'server.log'}")
            try:
                r = httpx.get(f"{self.http_url}/api/status?token={TOKEN}", timeout=1)
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def notebook_room(self, path: str) -> str:
        """The websocket URL of the notebook at ``path``'s room (its session opened first)."""
        info = self.session(path)
        return (
            f"{self.room_url}/json:notebook:{info['fileId']}"
            f"?sessionId={info['sessionId']}&token={TOKEN}"
        )

    def session(self, path: str) -> dict[str, str]:
        r = httpx.put(
            f"{self.http_url}/api/collaboration/session/{path}?token={TOKEN}",
            json={"format": "json", "type": "notebook"},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()

    def store_bytes(self) -> int:
        raise NotImplementedError


class Ours(Server):
    name = "collab_server"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "collab_server",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--root-dir={self.root}",
            f"--data-dir={self.base / 'collab-data'}",
            "--no-browser",
            "--CollabServer.room_cleanup_delay=1",
            # The same one-token authentication as the stock server gets.
            "--CollabServer.authorization_provider_class="
            "collab_server.auth.single_token.SingleTokenProvider",
            f"--SingleTokenProvider.token={TOKEN}",
            # Every simulated client uses the one token: no per-person socket limit here.
            "--CollabServer.max_sockets_per_user=0",
        ]

    def store_bytes(self) -> int:
        import sqlite3

        # The update store's own tables (snapshot, saved copy, log, authors) and their indexes:
        # the same database also holds the version history and the search index of the
        # notebook, which the stock server has no counterpart for.
        db = self.base / "collab-data" / "collab.sqlite"
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (used,) = conn.execute(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN"
                " ('documents', 'updates', 'update_authors')"
                " OR name LIKE 'sqlite_autoindex_documents%'"
                " OR name LIKE 'sqlite_autoindex_updates%'"
                " OR name LIKE 'sqlite_autoindex_update_authors%'"
            ).fetchone()
        return int(used)


class Stock(Server):
    name = "jupyter-collaboration"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            "--YDocExtension.document_cleanup_delay=1",
        ]

    def store_bytes(self) -> int:
        import sqlite3

        total = 0
        for db in list(self.base.glob("**/.jupyter_ystore.db")) + list(
            self.root.glob("**/.jupyter_ystore.db")
        ):
            with sqlite3.connect(db) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            total += db.stat().st_size
        return total


def available_stock() -> bool:
    import importlib.util

    return importlib.util.find_spec("jupyter_server_ydoc") is not None
