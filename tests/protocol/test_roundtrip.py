"""Every frame type round-trips; struct hot path, interpreted and compiled construct agree."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simrig.protocol.ykc import MESSAGES, decode_frame, encode_frame

from .strategies import for_message

CODES = sorted(MESSAGES)


def test_every_frame_of_the_notes_is_declared():
    expected = {
        0x01,
        0x02,
        0x03,
        0x04,
        0x05,
        0x06,
        0x09,
        0x0A,
        0x12,
        0x13,
        0x15,
        0x17,
        0x19,
        0x1B,
        0x1D,
        0x21,
        0x23,
        0x25,
        0x31,
        0x32,
        0x33,
        0x34,
        0x35,
        0x36,
        0x3B,
        0x3D,
        0x40,
        0x41,
        0x42,
        0x43,
        0x44,
        0x45,
        0x46,
        0x47,
        0x48,
        0x51,
        0x52,
        0x55,
        0x56,
        0x57,
        0x58,
        0x61,
        0x62,
        0x63,
        0x91,
        0x92,
        0x93,
        0x94,
        0xA1,
        0xA2,
        0xA3,
        0xA4,
        0xF0,
        0xF1,
    }
    assert set(CODES) == expected


@pytest.mark.parametrize("code", CODES, ids=[MESSAGES[c].NAME for c in CODES])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(code, data):
    cls = MESSAGES[code]
    message = data.draw(for_message(cls))
    seq = data.draw(st.integers(0, 0xFFFF))
    wire = encode_frame(message, seq)
    assert wire[1] == len(wire) - 4
    frame = decode_frame(wire)
    assert frame.message == message
    assert frame.seq == seq
    assert encode_frame(frame.message, frame.seq) == wire  # deterministic, byte for byte


@pytest.mark.parametrize("code", CODES, ids=[MESSAGES[c].NAME for c in CODES])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_compiled_and_interpreted_construct_agree_with_hot_path(code, data):
    cls = MESSAGES[code]
    codec = cls.codec
    message = data.draw(for_message(cls))
    body = codec.encode(message)
    assert codec.encode_with_construct(message, compiled=False) == body
    assert codec.encode_with_construct(message, compiled=True) == body
    assert codec.body.parse(body) == codec.compiled.parse(body)
    assert codec.decode_with_construct(body, compiled=False) == message
    assert codec.decode_with_construct(body, compiled=True) == message
    assert codec.decode(body) == message


def test_body_sizes_match_the_notes():
    sizes = {
        0x01: 30,
        0x03: 9,
        0x0A: 90,
        0x13: 60,
        0x15: 73,
        0x17: 45,
        0x19: 39,
        0x23: 44,
        0x25: 31,
        0x31: 51,
        0x32: 38,
        0x33: 26,
        0x34: 44,
        0x3B: 158,
        0x3D: 201,
        0x40: 17,
        0x94: 94,
        0xA1: 58,
        0xA2: 44,
        0xA3: 33,
        0xA4: 50,
    }
    for code, size in sizes.items():
        assert MESSAGES[code].codec.size == size, MESSAGES[code].NAME


def test_a_bms_current_decodes_to_its_decimal_on_both_sign_conventions():
    """§4.18: (400 − I) × 10 on the wire; every raw value reads as the float nearest its
    tenths of an ampere (what a backend would store), in the hot path and in construct."""
    from decimal import Decimal

    from simrig.protocol.ykc import DemandOutput

    codec = DemandOutput.codec
    body = bytearray(codec.encode(DemandOutput(serial="1" * 32, pile_no="32010200000001")))
    at = 16 + 7 + 1 + 2  # serial (BCD), pile, gun, demand voltage: then demand current
    assert body[at : at + 2] == (4000).to_bytes(2, "little")  # 0 A
    for raw in range(0x10000):
        body[at : at + 2] = raw.to_bytes(2, "little")
        expected = float(Decimal(abs(4000 - raw)) / 10)
        assert codec.decode(bytes(body)).demand_current == expected, raw
        if raw % 97 == 0:
            assert codec.decode_with_construct(bytes(body)).demand_current == expected, raw
