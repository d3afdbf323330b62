"""Fan-out and per-broadcast framing (collab_server.rooms.fanout, protocol.websocket_frame)."""

from __future__ import annotations

from typing import Any

from collab_server.rooms.fanout import LocalFanOut
from collab_server.rooms.limits import LocalConnectionLimits
from collab_server.rooms.protocol import websocket_frame


class Recorder:
    """A connection that records what it is sent (stands in for a websocket)."""

    def __init__(self, name: str, can_write: bool = True) -> None:
        self.user: dict[str, Any] = {"username": name}
        self.can_write = can_write
        self.label = name
        self.sent: list[tuple[bytes, bytes | None]] = []

    def send(self, message: bytes, wire: bytes | None = None) -> None:
        self.sent.append((message, wire))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        pass


def test_a_broadcast_is_framed_once_and_the_same_bytes_go_to_everyone() -> None:
    fanout = LocalFanOut()
    a, b, c = Recorder("a"), Recorder("b"), Recorder("c")
    for conn in (a, b, c):
        fanout.add(conn)
    fanout.publish(b"hello", skip=a)
    assert a.sent == []
    (msg_b, wire_b), (msg_c, wire_c) = b.sent[0], c.sent[0]
    assert msg_b == msg_c == b"hello"
    assert wire_b is wire_c  # one frame object handed to every connection
    assert wire_b == bytes((0x82, 5)) + b"hello"
    # A second broadcast has its own frame (no cache shared between broadcasts).
    fanout.publish(b"again")
    assert b.sent[1][1] == bytes((0x82, 5)) + b"again"


def test_send_to_only_reaches_accepted_connections() -> None:
    fanout = LocalFanOut()
    writer, reader = Recorder("w"), Recorder("r", can_write=False)
    fanout.add(writer)
    fanout.add(reader)
    fanout.send_to(b"x", lambda conn: conn.can_write)
    assert [m for m, _ in writer.sent] == [b"x"] and reader.sent == []
    fanout.remove(writer)
    fanout.publish(b"y")
    assert len(writer.sent) == 1


def test_websocket_frame_lengths() -> None:
    assert websocket_frame(b"a" * 125)[:2] == bytes((0x82, 125))
    assert websocket_frame(b"a" * 126)[:4] == bytes((0x82, 126, 0, 126))
    big = websocket_frame(b"a" * 70000)
    assert big[:2] == bytes((0x82, 127)) and int.from_bytes(big[2:10], "big") == 70000


def test_connection_limits_count_per_person() -> None:
    limits = LocalConnectionLimits(2)
    assert limits.reserve("ann") and limits.reserve("ann")
    assert not limits.reserve("ann")  # over the limit: nothing counted
    assert limits.reserve("bob")
    limits.release("ann")
    assert limits.reserve("ann")
    assert LocalConnectionLimits(0).reserve("anyone")  # 0: no limit
