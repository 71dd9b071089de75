"""The incremental framer: chunking invariance, resync, precise errors, fuzzing."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simrig.protocol.ykc import (
    MAX_FRAME,
    ErrorKind,
    Frame,
    FrameError,
    Framer,
    Heartbeat,
    RealtimeData,
    encode_frame,
)
from simrig.protocol.ykc.crc import crc_bytes

from .strategies import any_message

HEARTBEAT = encode_frame(Heartbeat(pile_no="32010200000001", gun=1), seq=7)


def feed_all(stream: bytes, cuts: list[int], tolerant: bool = False) -> list:
    framer = Framer(tolerant=tolerant)
    out: list = []
    last = 0
    for cut in [*sorted(set(c for c in cuts if 0 < c < len(stream))), len(stream)]:
        out += framer.feed(stream[last:cut])
        last = cut
        assert framer.pending <= MAX_FRAME
    return out + framer.close()


def frames_of(results: list) -> list:
    return [(r.message, r.seq) for r in results if isinstance(r, Frame)]


garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\x68", b"\x00"))


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(
        st.tuples(any_message, st.integers(0, 0xFFFF), garbage), min_size=1, max_size=6
    ),
    cuts=st.lists(st.integers(0, 2000), max_size=30),
)
def test_same_frames_however_chunked_with_garbage_between(messages, cuts):
    stream = b"".join(junk + encode_frame(m, seq) for m, seq, junk in messages)
    whole = feed_all(stream, [])
    assert frames_of(whole) == [(m, seq) for m, seq, _ in messages]
    assert feed_all(stream, cuts) == whole
    assert feed_all(stream, list(range(len(stream)))) == whole  # byte by byte
    garbage_reported = sum(1 for _, _, junk in messages if junk)
    assert [r.kind for r in whole if isinstance(r, FrameError)] == [
        ErrorKind.GARBAGE
    ] * garbage_reported


def test_false_start_byte_in_garbage_does_not_hide_the_next_frame():
    stream = b"\x68\x30junk" + HEARTBEAT + HEARTBEAT
    results = feed_all(stream, [3, 9, 20])
    assert len(frames_of(results)) == 2
    assert [r.kind for r in results if isinstance(r, FrameError)] == [ErrorKind.GARBAGE]


def test_false_start_does_not_stall_a_live_link():
    framer = Framer()
    results = framer.feed(b"\x68\xf0" + HEARTBEAT)  # claims 244 bytes that never come
    assert frames_of(results) == [(Heartbeat(pile_no="32010200000001", gun=1), 7)]


def _corrupt_crc(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 0xFF])


def test_bad_crc_reported_once_then_resync():
    results = Framer().feed(_corrupt_crc(HEARTBEAT) + HEARTBEAT)
    assert [type(r) for r in results] == [FrameError, Frame]
    assert results[0].kind is ErrorKind.BAD_CRC


def test_bad_length_byte():
    results = Framer().feed(b"\x68\x02" + HEARTBEAT)
    assert results[0].kind is ErrorKind.BAD_LENGTH
    assert isinstance(results[-1], Frame)


def _frame(type_code: int, body: bytes) -> bytes:
    inner = b"\x00\x01\x00" + bytes([type_code]) + body
    return bytes([0x68, len(inner)]) + inner + crc_bytes(inner)


def test_unknown_type_is_reported_and_skipped_whole():
    results = Framer().feed(_frame(0x7F, b"\x68" * 10) + HEARTBEAT)
    assert results[0].kind is ErrorKind.UNKNOWN_TYPE and results[0].type == 0x7F
    assert isinstance(results[1], Frame) and len(results) == 2


def test_wrong_body_length_strict_and_tolerant():
    body = Heartbeat(pile_no="1").encode_body()
    short = _frame(0x03, body[:-1])
    longer = _frame(0x03, body + b"\x00\x00")
    assert Framer().feed(short)[0].kind is ErrorKind.BODY_LENGTH
    assert Framer().feed(longer)[0].kind is ErrorKind.BODY_LENGTH
    assert "says 9" in Framer().feed(short)[0].detail
    frame = Framer(tolerant=True).feed(longer)[0]
    assert isinstance(frame, Frame) and frame.deviations == ("body_extra_bytes:2",)
    assert Framer(tolerant=True).feed(short)[0].kind is ErrorKind.BODY_LENGTH


def test_bad_field_names_the_field():
    body = bytearray(RealtimeData(pile_no="1").encode_body())
    body[16] = 0xAB  # a non-digit nibble in the pile number
    result = Framer().feed(_frame(0x13, bytes(body)))[0]
    assert result.kind is ErrorKind.BAD_FIELD and "pile_no" in result.detail
    frame = Framer(tolerant=True).feed(_frame(0x13, bytes(body)))[0]
    assert frame.message.pile_no.startswith("ab") and frame.deviations == ("pile_no:bcd_non_digit",)


def test_encrypted_body_reported():
    inner = b"\x00\x01\x01\x03" + bytes(9)
    frame = bytes([0x68, len(inner)]) + inner + crc_bytes(inner)
    assert Framer().feed(frame)[0].kind is ErrorKind.ENCRYPTED


def test_truncated_frame_at_close():
    framer = Framer()
    assert framer.feed(HEARTBEAT[:-3]) == []
    assert [e.kind for e in framer.close()] == [ErrorKind.TRUNCATED]


@pytest.mark.parametrize("seed", range(5))
def test_fuzz_random_and_mutated_streams_never_crash(seed):
    rng = random.Random(seed)
    valid = [
        encode_frame(RealtimeData(pile_no="55031412782305", energy=i / 7), i) for i in range(20)
    ]
    for _ in range(300):
        stream = bytearray(b"".join(rng.sample(valid, 5)))
        for _ in range(rng.randint(0, 12)):
            op = rng.random()
            pos = rng.randrange(len(stream))
            if op < 0.4:
                stream[pos] = rng.randrange(256)
            elif op < 0.6:
                del stream[pos : pos + rng.randint(1, 10)]
            elif op < 0.8:
                stream[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 30)))
            else:
                stream[pos:pos] = b"\x68" + bytes([rng.randrange(256)])
        if rng.random() < 0.2:
            stream = bytearray(rng.randbytes(rng.randint(0, 600)))
        framer = Framer(tolerant=rng.random() < 0.5)
        produced = 0
        for i in range(0, len(stream), 17):
            produced += len(framer.feed(bytes(stream[i : i + 17])))
            assert framer.pending <= MAX_FRAME
        produced += len(framer.close())
        assert framer.pending == 0
        assert produced <= len(stream)  # every result consumed at least one byte


def test_only_decodes_the_wanted_types_and_still_checks_the_others():
    realtime = encode_frame(RealtimeData(pile_no="1", energy=2.5), 3)
    stream = HEARTBEAT + realtime + _corrupt_crc(HEARTBEAT) + HEARTBEAT
    results = Framer(only=frozenset({0x13})).feed(stream)
    assert [type(r) for r in results] == [Frame, FrameError]
    assert results[0].message.energy == 2.5
    assert results[1].kind is ErrorKind.BAD_CRC
