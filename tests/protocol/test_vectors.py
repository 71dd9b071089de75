"""Worked examples of the protocol notes (protocol-ykc §1.4, §1.6, §4.2, §5)."""

from datetime import datetime

import pytest

from simrig.protocol.ykc import (
    DecodeError,
    Framer,
    LoginReply,
    LoginResult,
    ModelReply,
    cp56_decode,
    cp56_encode,
    crc16_modbus,
    decode_frame,
    encode_frame,
)
from simrig.protocol.ykc.wire import FieldError

LOGIN_REPLY = bytes.fromhex("680C0000000255031412782305 00DA4C".replace(" ", ""))


def test_crc_check_value():
    assert crc16_modbus(b"123456789") == 0x4B37


def test_login_reply_vector_decodes():
    frame = decode_frame(LOGIN_REPLY)
    assert frame.message == LoginReply(pile_no="55031412782305", result=LoginResult.OK)
    assert frame.seq == 0
    assert frame.deviations == ()


def test_login_reply_vector_encodes_byte_for_byte():
    assert encode_frame(LoginReply(pile_no="55031412782305")) == LOGIN_REPLY


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [
        ("98B70E11100314", datetime(2020, 3, 16, 17, 14, 47)),
        ("30750F11120C18", datetime(2024, 12, 18, 17, 15, 30)),
        ("E02E0C0C150819", datetime(2025, 8, 21, 12, 12, 12)),
    ],
)
def test_cp56_examples(hex_, expected):
    data = bytes.fromhex(hex_)
    assert cp56_decode(data) == expected
    assert cp56_encode(expected) == data


def test_cp56_day_of_week_bits_strict_vs_tolerant():
    data = bytes.fromhex("B036 04 11 6D 0C 17".replace(" ", ""))  # JCPP 0x3B sample, a Wednesday
    with pytest.raises(FieldError, match="day_of_week"):
        cp56_decode(data)
    devs: list = []
    assert cp56_decode(data, "end_time", True, devs) == datetime(2023, 12, 13, 17, 4, 14)
    assert devs == ["end_time:cp56_day_of_week"]


def test_cp56_milliseconds_kept():
    stamp = datetime(2019, 10, 29, 18, 25, 5, 123000)
    assert cp56_decode(cp56_encode(stamp)) == stamp


def test_billing_model_rates_tenyks_vector():
    # TNY-58: 2.0 / 0.4 yuan per kWh encode as 40 0D 03 00 / 40 9C 00 00 (§5)
    body = ModelReply(sharp_rate=2.0, sharp_service=0.4).encode_body()
    assert body[9:13] == bytes.fromhex("400D0300")
    assert body[13:17] == bytes.fromhex("409C0000")


def test_swapped_crc_is_rejected_strict_and_noted_tolerant():
    swapped = LOGIN_REPLY[:-2] + LOGIN_REPLY[-1:] + LOGIN_REPLY[-2:-1]
    with pytest.raises(DecodeError, match="swapped"):
        decode_frame(swapped)
    frame = decode_frame(swapped, tolerant=True)
    assert frame.deviations == ("crc_swapped",)
    assert Framer(tolerant=True).feed(swapped)[0].deviations == ("crc_swapped",)


def test_sequence_bytes_are_echoed_raw():
    frame = decode_frame(encode_frame(LoginReply(pile_no="1"), seq=0x0227))
    assert frame.raw[2:4] == b"\x02\x27"
    assert encode_frame(frame.message, frame.seq)[2:4] == b"\x02\x27"
