"""The y-websocket frame decoder and encoders (collab_server.rooms.protocol)."""

from __future__ import annotations

import json

import pytest

from collab_server.rooms.protocol import (
    AwarenessEntry,
    AwarenessMessage,
    MessageType,
    ProtocolError,
    QueryAwareness,
    RawMessage,
    Reader,
    SaveRequest,
    SyncMessage,
    SyncType,
    awareness_frame,
    decode_awareness,
    decode_message,
    encode_awareness,
    json_depth,
    raw_json,
    save_request,
    sync_reply,
    sync_step1,
    sync_step2,
    sync_update,
    write_var_bytes,
    write_var_string,
    write_var_uint,
)

# -- every message type -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encode", "subtype"),
    [(sync_step1, SyncType.STEP1), (sync_step2, SyncType.STEP2), (sync_update, SyncType.UPDATE)],
)
def test_sync_messages_round_trip(encode, subtype: SyncType) -> None:
    payload = bytes(range(256)) * 3  # a length that needs a two-byte varint
    assert decode_message(encode(payload)) == SyncMessage(subtype, payload)
    assert decode_message(encode(b"")) == SyncMessage(subtype, b"")


def test_awareness_message() -> None:
    assert decode_message(awareness_frame(b"\x00")) == AwarenessMessage(b"\x00")


def test_save_request_carries_its_id() -> None:
    for request_id in (0, 1, 127, 128, 300, 2**40):
        assert decode_message(save_request(request_id)) == SaveRequest(request_id)


def test_other_raw_text_is_kept_for_the_log() -> None:
    frame = bytes((MessageType.RAW,)) + write_var_string("héllo ☕")
    assert decode_message(frame) == RawMessage("héllo ☕")


def test_raw_json_is_a_raw_message() -> None:
    message = decode_message(raw_json({"type": "save", "responseTo": 1, "status": "success"}))
    assert isinstance(message, RawMessage)
    assert json.loads(message.text) == {"type": "save", "responseTo": 1, "status": "success"}


def test_query_awareness_has_no_payload() -> None:
    assert decode_message(bytes((MessageType.QUERY_AWARENESS,))) == QueryAwareness()


# -- malformed frames are ProtocolError, never garbage ------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        b"",  # no message type at all
        b"\x80",  # truncated message type varint
        b"\x00",  # SYNC without a subtype
        b"\x00\x00",  # STEP1 without a length
        b"\x00\x00\x85",  # truncated length varint
        b"\x00\x02\x05abc",  # length 5, 3 bytes follow
        b"\x00\x01\xff\xff\xff\xff\x0f",  # a 4 GiB length
        b"\x01",  # AWARENESS without a length
        b"\x01\x02\x00",  # AWARENESS length past the end
        b"\x02",  # RAW without a string
        b"\x02\x04sav",  # RAW string length past the end
        b"\x02\x04save",  # save without its request id
        b"\x02\x04save\x80",  # save with a truncated request id
        b"\x02\x02\xff\xfe",  # RAW text that is not UTF-8
        b"\x00\x03\x00",  # unknown sync subtype
        b"\x04",  # unknown message type
        b"\x7f",
        b"\x80\x01",  # message type 128
        b"\xff" * 20,  # a varint that never ends
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_message(frame)


def test_protocol_error_is_a_value_error() -> None:
    assert issubclass(ProtocolError, ValueError)


def test_varint_longer_than_nine_bytes_is_refused() -> None:
    with pytest.raises(ProtocolError, match="too long"):
        Reader(b"\x80" * 9 + b"\x01").var_uint()
    assert Reader(b"\x81" + b"\x80" * 7 + b"\x01").var_uint() == 1 + 2**56


def test_reader_keeps_its_position() -> None:
    reader = Reader(write_var_uint(300) + write_var_bytes(b"ab") + write_var_string("é"))
    assert reader.var_uint() == 300
    assert reader.var_bytes() == b"ab"
    assert reader.var_string() == "é"
    assert reader.remaining == 0


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 16383, 16384, 2**32, 2**62])
def test_var_uint_round_trip(value: int) -> None:
    encoded = write_var_uint(value)
    assert Reader(encoded).var_uint() == value
    assert all(b & 0x80 for b in encoded[:-1]) and encoded[-1] < 0x80


def test_string_lengths_are_utf8_bytes() -> None:
    assert write_var_string("☕") == b"\x03\xe2\x98\x95"


# -- awareness updates --------------------------------------------------------------------


def test_awareness_round_trip() -> None:
    entries = [
        AwarenessEntry(1, 5, {"user": {"name": "Ada ☕"}, "cursor": [1, 2]}),
        AwarenessEntry(2**31 - 1, 0, None),
    ]
    assert decode_awareness(encode_awareness(entries)) == entries


def test_awareness_empty_state_is_a_departure() -> None:
    update = write_var_uint(1) + write_var_uint(7) + write_var_uint(1) + write_var_string("")
    assert decode_awareness(update) == [AwarenessEntry(7, 1, None)]


def test_oversize_awareness_state_is_not_parsed() -> None:
    big = AwarenessEntry(3, 1, {"junk": "x" * 100})
    small = AwarenessEntry(4, 1, {"a": 1})
    decoded = decode_awareness(encode_awareness([big, small]), max_state_bytes=50)
    assert decoded == [AwarenessEntry(3, 1, None, oversize=True), small]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("[1, 2]", "not a JSON object"),
        ("42", "not a JSON object"),
        ("{not json", "not JSON"),
        ("[" * 33 + "]" * 33, "deeper"),
    ],
)
def test_bad_awareness_states(state: str, message: str) -> None:
    update = write_var_uint(1) + write_var_uint(1) + write_var_uint(1) + write_var_string(state)
    with pytest.raises(ProtocolError, match=message):
        decode_awareness(update)


def test_deeply_nested_awareness_is_refused_before_parsing() -> None:
    state = '{"a":' * 100_000 + "1" + "}" * 100_000
    update = write_var_uint(1) + write_var_uint(1) + write_var_uint(1) + write_var_string(state)
    with pytest.raises(ProtocolError):
        decode_awareness(update)


@pytest.mark.parametrize(
    "update",
    [
        b"",  # no count
        b"\x01",  # one entry, nothing follows
        b"\x01\x01\x01",  # no state length
        b"\x01\x01\x01\x05{}",  # state length past the end
        b"\x01\x01\x01\x02\xff\xfe",  # state not UTF-8
        b"\x02\x01\x01\x02{}",  # count says two, one is there
    ],
)
def test_truncated_awareness_updates(update: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_awareness(update)


def test_json_depth_skips_strings() -> None:
    assert json_depth("{}") == 1
    assert json_depth('{"a": [1, {"b": []}]}') == 4
    assert json_depth('{"a": "[[[[{{{{\\"]]]"}') == 1
    assert json_depth('"plain"') == 0


def test_sync_reply_is_what_the_peer_lacks_as_step2() -> None:
    from pycrdt import Doc, Text

    ours: Doc = Doc()
    theirs: Doc = Doc()
    ours.get("t", type=Text).insert(0, "hello")
    message = decode_message(sync_reply(ours, theirs.get_state()))
    assert isinstance(message, SyncMessage) and message.subtype == SyncType.STEP2
    theirs.apply_update(message.payload)
    assert str(theirs.get("t", type=Text)) == "hello"
    # A peer that has everything gets an empty update, still as a STEP2.
    again = decode_message(sync_reply(ours, theirs.get_state()))
    assert isinstance(again, SyncMessage) and again.subtype == SyncType.STEP2
    assert again.payload == b"\x00\x00"


def test_sync_reply_refuses_a_malformed_state_vector() -> None:
    from pycrdt import Doc

    with pytest.raises(ProtocolError, match="invalid state vector"):
        sync_reply(Doc(), b"\xff\xff\xff")
