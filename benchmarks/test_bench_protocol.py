"""Codec speed: encode/decode of 0x03, 0x13 and 0x3B, against a plain-struct 0x13 baseline.

Run: ``make bench`` (pytest-benchmark; grouped; off in the normal suite).
The baseline decodes the same 0x13 body with one ``struct.Struct`` into the same values
(hex serial, BCD check, scaled floats) — what a careful hand-written decoder would do.
"""

from __future__ import annotations

import struct
from datetime import datetime

import pytest

from simrig.protocol.ykc import (
    Framer,
    GunStatus,
    Heartbeat,
    RealtimeData,
    TransactionRecord,
    decode_frame,
    encode_frame,
)

REALTIME = RealtimeData(
    serial="32010200000001012001061803423060",
    pile_no="32010200000001",
    gun=1,
    status=GunStatus.CHARGING,
    plugged=True,
    voltage=402.5,
    current=120.3,
    gun_temperature=35,
    soc=57,
    battery_max_temperature=31,
    charge_minutes=22,
    remaining_minutes=41,
    energy=21.3204,
    loss_energy=21.3204,
    amount=27.7165,
)
RECORD = TransactionRecord(
    serial="32010200000001012001061803423060",
    pile_no="32010200000001",
    gun=1,
    start_time=datetime(2020, 1, 6, 18, 3, 42),
    end_time=datetime(2020, 1, 6, 18, 45, 3),
    peak_price=1.8,
    peak_energy=12.5,
    peak_loss_energy=12.5,
    peak_amount=22.5,
    meter_start=12345.6789,
    meter_end=12358.1789,
    total_energy=12.5,
    total_loss_energy=12.5,
    total_amount=22.5,
    vin="LSVAU2180N2183294",
    trade_time=datetime(2020, 1, 6, 18, 45, 9),
)
FRAMES = {
    "0x03": encode_frame(Heartbeat(pile_no="32010200000001", gun=1), 1),
    "0x13": encode_frame(REALTIME, 1),
    "0x3B": encode_frame(RECORD, 1),
}
MESSAGES = {"0x03": Heartbeat(pile_no="32010200000001", gun=1), "0x13": REALTIME, "0x3B": RECORD}

_BASE = struct.Struct("<16s7sBBBBHHB8sBBHHIIIH")


def struct_baseline_0x13(body: bytes) -> dict:
    """Plain-struct decoder of the 0x13 body into real units (the baseline)."""
    (
        serial,
        pile,
        gun,
        status,
        returned,
        plugged,
        volts,
        amps,
        temp,
        cable,
        soc,
        btemp,
        minutes,
        remaining,
        energy,
        loss,
        amount,
        faults,
    ) = _BASE.unpack(body)
    pile_no = pile.hex()
    if not pile_no.isdigit():
        raise ValueError("pile_no")
    return {
        "serial": serial.hex(),
        "pile_no": pile_no,
        "gun": (gun >> 4) * 10 + (gun & 15),
        "status": status,
        "gun_returned": returned,
        "plugged": plugged != 0,
        "voltage": volts / 10,
        "current": amps / 10,
        "gun_temperature": temp - 50.0,
        "cable_code": cable.hex().upper(),
        "soc": soc,
        "battery_max_temperature": btemp - 50.0,
        "charge_minutes": minutes,
        "remaining_minutes": remaining,
        "energy": energy / 10000,
        "loss_energy": loss / 10000,
        "amount": amount / 10000,
        "faults": faults,
    }


BODY_0x13 = FRAMES["0x13"][6:-2]


@pytest.mark.benchmark(group="0x13 body decode")
def test_0x13_body_struct_baseline(benchmark):
    result = benchmark(struct_baseline_0x13, BODY_0x13)
    assert result["energy"] == REALTIME.energy


@pytest.mark.benchmark(group="0x13 body decode")
def test_0x13_body_simrig(benchmark):
    decode = RealtimeData.codec.decode
    assert benchmark(decode, BODY_0x13) == REALTIME


@pytest.mark.benchmark(group="0x13 body decode")
def test_0x13_body_construct_compiled(benchmark):
    codec = RealtimeData.codec
    codec.compiled  # noqa: B018 - compile outside the timing
    assert benchmark(codec.decode_with_construct, BODY_0x13) == REALTIME


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.benchmark(group="frame decode (CRC + header + body)")
def test_frame_decode(benchmark, name):
    assert benchmark(decode_frame, FRAMES[name]).message == MESSAGES[name]


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.benchmark(group="frame encode")
def test_frame_encode(benchmark, name):
    assert benchmark(encode_frame, MESSAGES[name], 1) == FRAMES[name]


@pytest.mark.benchmark(group="framer stream")
def test_framer_stream_100_frames(benchmark):
    stream = b"".join(FRAMES.values()) * 33

    def run() -> int:
        return len(Framer().feed(stream))

    assert benchmark(run) == 99
