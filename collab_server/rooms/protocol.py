"""The y-websocket v1 wire format, as JupyterLab speaks it.

This module owns decoding and encoding of websocket frames; it knows nothing about rooms or
documents. Every frame is one message:

    varuint message type
      0 SYNC       varuint subtype (0 STEP1, 1 STEP2, 2 UPDATE), then varbytes payload
      1 AWARENESS  varbytes awareness update
      2 RAW        varString text; for "save" a varuint request id follows
      3 QUERY_AWARENESS (y-websocket): no payload

Decoding is strict and bounds-checked: a truncated varint or a length that runs past the
end of the frame raises :class:`ProtocolError` instead of reading garbage. String lengths
are UTF-8 *byte* lengths (pycrdt's own ``Encoder.write_var_string`` writes the character
count, which truncates non-ASCII strings; we do not use it).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    RAW = 2
    QUERY_AWARENESS = 3


class SyncType(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


# A varuint longer than this cannot be a sane length or id (2**63).
_MAX_VARUINT_BYTES = 9


class ProtocolError(ValueError):
    """A frame that does not follow the y-websocket framing."""


class Reader:
    """A bounds-checked cursor over one frame."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def var_uint(self) -> int:
        value = 0
        shift = 0
        for _ in range(_MAX_VARUINT_BYTES):
            if self.pos >= len(self.data):
                raise ProtocolError("truncated varint")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
        raise ProtocolError("varint too long")

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        if length > self.remaining:
            raise ProtocolError(f"length {length} runs past the end of the frame")
        chunk = self.data[self.pos : self.pos + length]
        self.pos += length
        return bytes(chunk)

    def var_string(self) -> str:
        try:
            return self.var_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError("string is not valid UTF-8") from e


def write_var_uint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def write_var_bytes(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def write_var_string(text: str) -> bytes:
    return write_var_bytes(text.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class SyncMessage:
    subtype: SyncType
    payload: bytes  # STEP1: a state vector; STEP2/UPDATE: an update


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    payload: bytes


@dataclass(frozen=True, slots=True)
class SaveRequest:
    request_id: int


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A RAW message we do not act on (kept so that the caller can log it)."""

    text: str


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


Message = SyncMessage | AwarenessMessage | SaveRequest | RawMessage | QueryAwareness


def decode_message(frame: bytes) -> Message:
    """Decode one websocket frame; raise :class:`ProtocolError` if it is malformed."""
    reader = Reader(frame)
    kind = reader.var_uint()
    if kind == MessageType.SYNC:
        subtype = reader.var_uint()
        if subtype not in (0, 1, 2):
            raise ProtocolError(f"unknown sync message type {subtype}")
        return SyncMessage(SyncType(subtype), reader.var_bytes())
    if kind == MessageType.AWARENESS:
        return AwarenessMessage(reader.var_bytes())
    if kind == MessageType.RAW:
        text = reader.var_string()
        if text == "save":
            return SaveRequest(reader.var_uint())
        return RawMessage(text)
    if kind == MessageType.QUERY_AWARENESS:
        return QueryAwareness()
    raise ProtocolError(f"unknown message type {kind}")


def sync_step1(state_vector: bytes) -> bytes:
    return bytes((MessageType.SYNC, SyncType.STEP1)) + write_var_bytes(state_vector)


def sync_step2(update: bytes) -> bytes:
    return bytes((MessageType.SYNC, SyncType.STEP2)) + write_var_bytes(update)


def sync_update(update: bytes) -> bytes:
    return bytes((MessageType.SYNC, SyncType.UPDATE)) + write_var_bytes(update)


class Encodable(Protocol):
    """What answering a STEP1 needs of a document (a ``pycrdt.Doc``)."""

    def get_update(self, state: bytes | None = None) -> bytes: ...


# Never turned into a ProtocolError: cancellation and interpreter exit.
_FATAL = (asyncio.CancelledError, KeyboardInterrupt, SystemExit)


def sync_reply(doc: Encodable, state_vector: bytes) -> bytes:
    """The STEP2 answer to a peer's STEP1: what ``doc`` holds beyond ``state_vector``.

    Raises :class:`ProtocolError` for a malformed state vector (pycrdt raises pyo3's
    ``PanicException``, a ``BaseException``, on some; that is bad input, not a crash)."""
    try:
        update = doc.get_update(state_vector)
    except _FATAL:
        raise
    except BaseException as e:
        raise ProtocolError("invalid state vector") from e
    return sync_step2(update)


def awareness_frame(update: bytes) -> bytes:
    return bytes((MessageType.AWARENESS,)) + write_var_bytes(update)


def raw_json(payload: dict[str, Any]) -> bytes:
    """A RAW message carrying JSON, as the server answers ``save`` requests."""
    return bytes((MessageType.RAW,)) + write_var_string(json.dumps(payload))


def websocket_frame(message: bytes) -> bytes:
    """An unmasked, final, binary websocket frame (RFC 6455 5.2) carrying ``message``: a
    broadcast is framed once and the same bytes written to every socket (we never negotiate
    compression, so a plain binary frame is always valid)."""
    length = len(message)
    if length < 126:
        header = bytes((0x82, length))
    elif length < 1 << 16:
        header = bytes((0x82, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x82, 127)) + length.to_bytes(8, "big")
    return header + message


def save_request(request_id: int) -> bytes:
    """What a client sends to ask for a save (used by tests and tools)."""
    return bytes((MessageType.RAW,)) + write_var_string("save") + write_var_uint(request_id)


# --- awareness updates ------------------------------------------------------------------


@dataclass(slots=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: dict[str, Any] | None  # None means "this client left" (or, with ``oversize``, dropped)
    oversize: bool = False  # the state's JSON was above the size limit and was not parsed


# Deeper awareness states are refused: JupyterLab's are 3-4 levels deep, and Python's JSON
# decoder recurses (a 100,000-deep state would abort with RecursionError).
MAX_AWARENESS_DEPTH = 32


def json_depth(text: str) -> int:
    """The deepest nesting of objects and arrays in the JSON ``text`` (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif char in "]}":
            depth -= 1
    return deepest


def decode_awareness(
    update: bytes,
    max_state_bytes: int | None = None,
    max_depth: int = MAX_AWARENESS_DEPTH,
) -> list[AwarenessEntry]:
    """Decode a y-protocols awareness update; states that are not JSON objects are errors.

    A state above ``max_state_bytes`` (UTF-8) is not parsed: its entry has ``oversize`` set
    and no state. A state nested deeper than ``max_depth`` is a :class:`ProtocolError`.
    """
    reader = Reader(update)
    count = reader.var_uint()
    entries: list[AwarenessEntry] = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        raw = reader.var_bytes()
        if max_state_bytes is not None and len(raw) > max_state_bytes:
            entries.append(AwarenessEntry(client_id, clock, None, oversize=True))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError("string is not valid UTF-8") from e
        if json_depth(text) > max_depth:
            raise ProtocolError(f"awareness state nested deeper than {max_depth} levels")
        try:
            state = json.loads(text) if text else None
        except (json.JSONDecodeError, RecursionError) as e:
            raise ProtocolError("awareness state is not JSON") from e
        if state is not None and not isinstance(state, dict):
            raise ProtocolError("awareness state is not a JSON object")
        entries.append(AwarenessEntry(client_id, clock, state))
    return entries


def encode_awareness(entries: list[AwarenessEntry]) -> bytes:
    out = [write_var_uint(len(entries))]
    for entry in entries:
        out.append(write_var_uint(entry.client_id))
        out.append(write_var_uint(entry.clock))
        text = "null" if entry.state is None else json.dumps(entry.state, separators=(",", ":"))
        out.append(write_var_string(text))
    return b"".join(out)
