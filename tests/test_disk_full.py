"""A store write refused by a really full disk never splits clients.

The server's data directory is a small tmpfs filled to the brim while two people type in one
notebook: the write SQLite cannot make must close the room for both (RAW
``store_unavailable``, close 1011) instead of leaving each with a document the other never
sees; once space is back, both reconnect, resync, and nothing either typed is lost or doubled.
Needs root (``mount -t tmpfs``): without it the test fails and says so, it is never skipped.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import read_notebook, write_notebook
from support.yclient import YClient, wait_until

TMPFS_SIZE = "6m"
LEFT_FREE = 8 * 1024  # bytes left on the full disk: a commit or two, then nothing
MAX_ROUNDS = 400  # typing rounds before the test gives up on the disk ever filling


def mount_tmpfs(where: Path) -> None:
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            "This test needs root to mount a tmpfs as the server's data directory "
            f"(mount -t tmpfs -o size={TMPFS_SIZE} tmpfs DIR failed: "
            f"{result.stderr.strip() or result.returncode})",
            pytrace=False,
        )


def unmount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        # Still busy (a process the test could not reap): detach it rather than leave a
        # tmpfs mounted under the test's temporary directory.
        subprocess.run(["umount", "-l", str(where)], check=True, capture_output=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill the file system of ``disk`` with one file, leaving ``leave`` bytes free."""
    filler = disk / "filler"
    chunk = b"\0" * (64 * 1024)
    # Unbuffered writes: a buffered file keeps the bytes a full disk refused and raises
    # ENOSPC again when it is closed (newer kernels accept part of the last chunk).
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(10_000):  # bounded: 640 MB, far above the tmpfs size
            os.write(fd, chunk)
        raise AssertionError("the tmpfs never filled")
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    # Give back just enough for the free space to be ``leave`` bytes.
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


async def test_full_disk_closes_the_room_and_loses_nothing(spawn_server, tmp_path: Path):
    disk = tmp_path / "data-tmpfs"
    disk.mkdir()
    mount_tmpfs(disk)
    server = None
    clients: list[YClient] = []
    try:
        # No autosave while the disk fills: the refused write is the typing's own.
        server = spawn_server(f"--data-dir={disk}", "--CollabServer.save_delay=60")
        path = write_notebook(server.root, ["", ""])
        theirs = write_notebook(server.root, ["theirs"], name="team-a/theirs.ipynb")
        alice = await YClient.connect(server, path, "alice-token")
        bob = await YClient.connect(server, path, "bob-token")
        tenant = await YClient.connect(server, theirs, "tenant-a-token")
        clients += [alice, bob, tenant]
        room = f"json:notebook:{alice.file_id}"
        typed_a, typed_b = ["a-start;"], ["b-start;"]
        alice.insert(0, None, typed_a[0])
        bob.insert(1, None, typed_b[0])
        await wait_until(lambda: bob.text(0) == typed_a[0] and alice.text(1) == typed_b[0], 5)

        filler = fill(disk, LEFT_FREE)
        for i in range(MAX_ROUNDS):
            ta, tb = f"a{i};", f"b{i};"
            alice.insert(0, None, ta)
            bob.insert(1, None, tb)
            typed_a.append(ta)
            typed_b.append(tb)

            # Each round is either stored and broadcast (each sees the other's keystroke),
            # or refused by the store, and then the room closes for both.
            def round_over(ta: str = ta, tb: str = tb) -> bool:
                return (ta in bob.text(0) and tb in alice.text(1)) or (
                    alice.closed.is_set() and bob.closed.is_set()
                )

            await wait_until(round_over, 10)
            if alice.closed.is_set() or bob.closed.is_set():
                break
        assert alice.closed.is_set(), f"the store never refused a write in {MAX_ROUNDS} rounds"
        for client in (alice, bob):
            assert await client.wait_closed(5) == 1011
            assert json.loads(client.close_reason) == {"reason": "store_unavailable"}
            [error] = client.raw_of_type("error")
            assert error["reason"] == "store_unavailable"
        log = server.log()
        assert f"Cannot store changes of room {room} (database or disk is full)" in log
        assert str(disk) not in log.split("Cannot store changes of room", 1)[1].splitlines()[0]

        # Meanwhile another tenant's room still answers (it wrote nothing, so it stays
        # open), and so does the API.
        async with server.client("tenant-a-token") as other:
            assert (await other.get("/api/contents/team-a")).status_code == 200
        await tenant.set_awareness({"cursor": 1})
        await wait_until(lambda: tenant.doc.client_id in tenant.awareness, 5)
        await tenant.save(1)  # answered, whatever its status
        assert not tenant.closed.is_set()

        # Offline edits, and a reconnect while the disk is still full: whatever the server
        # does with the room, what alice resends cannot be stored, so she is closed again
        # (never served a document the store lacks).
        alice.insert(0, None, "a-offline;")
        typed_a.append("a-offline;")
        bob.insert(1, None, "b-offline;")
        typed_b.append("b-offline;")
        await alice.open(alice.url)
        assert await alice.wait_closed(10) == 1011
        assert len(alice.raw_of_type("error")) == 2
        assert alice.raw_of_type("error")[1]["reason"] == "store_unavailable"
        # The room stays refused while the disk is full: its writability probe commits a real
        # write (a rolled-back probe never reaches the disk in WAL mode and would pass).
        assert "The store accepts writes again; reopening" not in server.log()

        # Space is back: both reconnect, resync, and converge on everything either typed.
        filler.unlink()
        await alice.reconnect()
        await bob.reconnect()
        expected = ["".join(typed_a), "".join(typed_b)]
        await wait_until(lambda: [alice.text(0), alice.text(1)] == expected, 10)
        await wait_until(lambda: [bob.text(0), bob.text(1)] == expected, 10)
        # Stored exactly once: a fresh client and the saved file agree.
        carol = await YClient.connect(server, path, "carol-token")
        clients.append(carol)
        assert [carol.text(0), carol.text(1)] == expected
        assert (await alice.save(2))["status"] == "success"
        assert [c.source for c in read_notebook(server.root, path).cells] == expected
        assert not alice.closed.is_set() and not bob.closed.is_set()
        # A full disk is expected trouble: said in one line each time, never as a traceback
        # (the other tenant's refused save included).
        log = server.log()
        assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:2000]
    finally:
        for client in clients:
            await client.close()
        if server is not None and server.alive():
            server.kill()
        unmount(disk)
