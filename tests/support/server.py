"""Start the real ``collab-server`` on 127.0.0.1 in a child process, stop it, crash it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

TESTS_DIR = Path(__file__).resolve().parent.parent

# How long a server may take to start. Generous: on a loaded machine (2 cores shared by
# several test runs) importing jupyter_server and its extensions alone can take 30 s.
START_TIMEOUT = float(os.environ.get("COLLAB_TEST_START_TIMEOUT", "120"))

USERS: dict[str, dict[str, Any]] = {
    "admin-token": {
        "id": "admin",
        "name": "Ada Admin",
        "grants": [["", "admin"], ["*", "admin"], ["", "execute"], ["*", "execute"]],
    },
    "alice-token": {"id": "alice", "name": "Alice Editor", "grants": [["", "write"]]},
    "bob-token": {"id": "bob", "name": "Bob Editor", "grants": [["", "write"]]},
    "carol-token": {"id": "carol", "name": "Carol Editor", "grants": [["", "write"]]},
    "viewer-token": {"id": "victor", "name": "Victor Viewer", "grants": [["", "read"]]},
    "commenter-token": {"id": "cora", "name": "Cora Commenter", "grants": [["", "comment"]]},
    "commenter2-token": {"id": "carl", "name": "Carl Commenter", "grants": [["", "comment"]]},
    # May run code (the "execute" right): in every notebook, and kernels/sessions ("*").
    "runner-token": {
        "id": "rita",
        "name": "Rita Runner",
        "grants": [["", "write"], ["", "execute"], ["*", "write"], ["*", "execute"]],
    },
    # May run code, but only in team-a.
    "tenant-a-runner-token": {
        "id": "tara",
        "name": "Tara Team-A Runner",
        "grants": [["team-a", "write"], ["team-a", "execute"], ["*", "write"], ["*", "execute"]],
    },
    "tenant-a-token": {"id": "tenant-a", "name": "Tenant A", "grants": [["team-a", "write"]]},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """One ``collab-server`` process with its own root, data and Jupyter directories."""

    def __init__(
        self,
        base: Path,
        extra_args: list[str] | None = None,
        provider: str | None = "support.providers.TableProvider",
        ready_token: str | None = "admin-token",
    ) -> None:
        self.provider = provider
        self.ready_token = ready_token
        self.base = base
        self.root = base / "root"
        self.data = base / "data"
        self.config_dir = base / "jupyter-config"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        self.extra_args = extra_args or []
        self.port = free_port()
        self.log_path = base / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = dict(os.environ)
        env.update(
            {
                # Absolute: the server runs in its own folder, not in the working tree.
                "PYTHONPATH": os.pathsep.join(
                    [str(TESTS_DIR)]
                    + [
                        str(Path(p).resolve())
                        for p in env.get("PYTHONPATH", "").split(os.pathsep)
                        if p
                    ]
                ),
                "COLLAB_TEST_USERS": json.dumps(USERS),
                "JUPYTER_CONFIG_DIR": str(self.config_dir),
                "JUPYTER_DATA_DIR": str(self.base / "jupyter-data"),
                "JUPYTER_RUNTIME_DIR": str(self.base / "jupyter-runtime"),
                "JUPYTER_PLATFORM_DIRS": "1",
            }
        )
        options = {
            "--ip": "127.0.0.1",
            "--port": str(self.port),
            "--ServerApp.port_retries": "0",
            "--root-dir": str(self.root),
            "--data-dir": str(self.data),
            "--CollabServer.save_delay": "0.3",
            "--CollabServer.file_poll_interval": "0.2",
            "--CollabServer.room_cleanup_delay": "1",
        }
        if self.provider:
            options["--CollabServer.authorization_provider_class"] = self.provider
        for arg in self.extra_args:  # a test's own options replace the defaults
            key, _, value = arg.partition("=")
            options[key] = value
        args = [sys.executable, "-m", "collab_server", "--no-browser"]
        args += [f"{key}={value}" for key, value in options.items()]
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the handle
            # cwd: the server's own folder, so nothing it might write relative to the current
            # directory can land in the working tree.
            self.process = subprocess.Popen(
                args, env=env, cwd=self.base, stdout=log, stderr=subprocess.STDOUT
            )
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited early (code {self.process.returncode}):\n{self.log()}"
                )
            if self._ready():
                return self
            time.sleep(0.1)  # polling the child's readiness (it tells us nothing on its own)
        self.process.kill()  # do not leave it running behind a failed test
        self.process.wait(10)
        raise RuntimeError(
            f"server did not start within {START_TIMEOUT:.0f} s "
            f"(COLLAB_TEST_START_TIMEOUT); its log:\n{self.log()}"
        )

    def _ready(self) -> bool:
        if self.ready_token is None:
            # No token known in advance: ready once the URL to open is printed.
            return "Open this URL in a browser" in self.log()
        try:
            r = httpx.get(
                f"{self.http_url}/api/status",
                headers={"Authorization": f"token {self.ready_token}"},
                timeout=5,
            )
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def restart(self) -> ServerProcess:
        """Start again on the same port (clients reconnect to the URL they know)."""
        return self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def create_user(self, name: str, password: str, *flags: str) -> subprocess.CompletedProcess:
        """``collab-server create-user`` on this server's data directory."""
        return subprocess.run(
            [sys.executable, "-m", "collab_server", "create-user", name, "--password-stdin",
             "--data-dir", str(self.data), *flags],
            input=(password + "\n").encode(),
            capture_output=True,
            cwd=self.base,
            timeout=60,
        )  # fmt: skip

    @classmethod
    def with_accounts(
        cls,
        base: Path,
        passwords: dict[str, str],
        flags: dict[str, list[str]],
        extra_args: list[str] | None = None,
    ) -> ServerProcess:
        """A server on the built-in local accounts (not started yet), with these accounts
        made by ``create-user`` (``flags``: e.g. ``{"root": ["--admin"]}``)."""
        server = cls(base, extra_args, provider=None, ready_token=None)
        for name, password in passwords.items():
            made = server.create_user(name, password, *flags.get(name, []))
            assert made.returncode == 0, made.stderr
        return server

    def sign_in_all(self, passwords: dict[str, str]) -> dict[str, str]:
        """Sign each local account in (``POST /api/collab/login``): session tokens by name."""
        tokens = {}
        for name, password in passwords.items():
            r = httpx.post(f"{self.http_url}/api/collab/login",
                           json={"username": name, "password": password})  # fmt: skip
            assert r.status_code == 200, r.text
            tokens[name] = r.json()["token"]
        return tokens

    def client(self, token: str = "alice-token") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.http_url, headers={"Authorization": f"token {token}"}, timeout=10
        )
