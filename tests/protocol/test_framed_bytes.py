"""Bytes handed on with their frames decoded (:class:`FramedBytes`): a framer takes them
only where parsing the bytes would give exactly them."""

from __future__ import annotations

import pickle
import random
from collections import Counter
from datetime import datetime

import pytest

from simrig.firmware_models.wire import BY_REFERENCE, Wire
from simrig.protocol.ykc import (
    Frame,
    FramedBytes,
    FrameError,
    Framer,
    GunStatus,
    Heartbeat,
    RealtimeData,
    TimeSyncReply,
    TriState,
    encode_frame,
)
from simrig.protocol.ykc import framer as framer_module
from simrig.protocol.ykc.crc import crc16_modbus
from simrig.scenarios import load_scenario
from simrig.scenarios.workload import WorkloadSpec, station_workload
from simrig.sim.runner import run_scenario

PILE = "32010200000001"


def _realtime(energy: float) -> RealtimeData:
    return RealtimeData(
        serial="12" * 16,
        pile_no=PILE,
        gun=1,
        status=GunStatus.CHARGING,
        gun_returned=TriState.NO,
        plugged=True,
        voltage=400.1,
        current=100.2,
        energy=energy,
        amount=20.5,
    )


def _framed(*messages: object, raw_types: tuple[type, ...] = ()) -> FramedBytes:
    """Frames of ``messages`` numbered 1…; those of ``raw_types`` handed on raw."""
    parts: list[Frame | bytes] = []
    for seq, m in enumerate(messages, 1):
        raw = encode_frame(m, seq)  # type: ignore[arg-type]
        parts.append(raw if isinstance(m, raw_types) else Frame(m, seq, raw))  # type: ignore[arg-type]
    return FramedBytes(b"".join(p.raw if isinstance(p, Frame) else p for p in parts), tuple(parts))


def test_a_clean_framer_takes_the_frames_it_is_handed():
    data = _framed(_realtime(1.5), Heartbeat(pile_no=PILE, gun=1))
    framer = Framer()
    out = framer.feed(data)
    assert all(a is b for a, b in zip(out, data.parts, strict=True))
    assert framer.frames == 2


def test_the_frames_handed_on_are_those_parsing_gives():
    data = _framed(_realtime(1.5), _realtime(2.25))
    assert Framer().feed(bytes(data)) == list(data.parts)


def test_raw_parts_are_parsed_in_their_place():
    sync = TimeSyncReply(pile_no=PILE, time=datetime(2026, 12, 1, 8, 0, 0, 123000))
    data = _framed(_realtime(1.5), sync, _realtime(2.5), raw_types=(TimeSyncReply,))
    framer = Framer()
    out = framer.feed(data)
    assert out == Framer().feed(bytes(data))
    assert out[0] is data.parts[0] and out[2] is data.parts[2]
    assert isinstance(data.parts[1], bytes) and out[1].message == sync
    assert framer.frames == 3


def test_a_raw_part_that_does_not_parse_goes_the_general_way():
    """An encoder's frame a strict peer refuses (an encrypted flag) is reported as parsing
    the bytes reports it, and what follows is still read."""
    bad = bytearray(encode_frame(Heartbeat(pile_no=PILE, gun=1), 2))
    bad[4] = 1  # the encryption flag
    body = bytes(bad[2:-2])
    crc = crc16_modbus(body)
    bad[-2:] = bytes((crc & 0xFF, crc >> 8))
    first = Frame(_realtime(1.0), 1, encode_frame(_realtime(1.0), 1))
    last = Frame(_realtime(3.0), 3, encode_frame(_realtime(3.0), 3))
    data = FramedBytes(first.raw + bytes(bad) + last.raw, (first, bytes(bad), last))
    out = Framer().feed(data)
    assert repr(out) == repr(Framer().feed(bytes(data)))
    assert isinstance(out[1], FrameError) and out[2].message.energy == 3.0


def test_a_framer_holding_a_partial_frame_parses_the_bytes_instead():
    """The handed-on frames are not the whole truth once bytes are buffered: the
    buffered half-frame comes first."""
    first = encode_frame(_realtime(1.0), 7)
    data = _framed(_realtime(2.0))
    framer = Framer()
    assert framer.feed(first[:10]) == []
    out = framer.feed(first[10:] + b"")  # completes the first frame
    out += framer.feed(data)
    assert [f.message.energy for f in out if isinstance(f, Frame)] == [1.0, 2.0]
    framer = Framer()
    framer.feed(first[:10])
    out = framer.feed(data)  # the broken head is reported, then the frame parsed
    assert any(isinstance(item, FrameError) for item in out) or framer.pending
    assert [f.message.energy for f in out if isinstance(f, Frame)] == [2.0]


def test_only_the_wanted_types_are_taken():
    data = _framed(_realtime(1.5), Heartbeat(pile_no=PILE, gun=1))
    framer = Framer(only=frozenset({Heartbeat.TYPE}))
    assert [type(f.message) for f in framer.feed(data)] == [Heartbeat]
    assert framer.frames == 1


def test_any_change_to_the_bytes_drops_the_frames():
    data = _framed(_realtime(1.5), _realtime(2.5))
    corrupted = bytearray(data)
    corrupted[20] ^= 0xFF
    assert type(data[: len(data) // 2]) is bytes
    assert type(bytes(corrupted)) is bytes
    assert type(data + b"") is bytes
    out = Framer().feed(bytes(corrupted))
    assert any(isinstance(item, FrameError) for item in out)


def test_framed_bytes_survive_pickling_with_their_frames():
    data = _framed(_realtime(1.5))
    back = pickle.loads(pickle.dumps(data))
    assert type(back) is FramedBytes
    assert back == data and back.parts == data.parts


def test_the_wire_hands_on_by_reference_frames_decoded_and_the_others_raw():
    wire = Wire(PILE)
    wire.connected = True
    wire.emit_frame_events = False
    sync = TimeSyncReply(pile_no=PILE)
    assert TimeSyncReply not in BY_REFERENCE
    wire.send(_realtime(1.5), 0.0)
    wire.send(sync, 0.0)
    wire.send(Heartbeat(pile_no=PILE, gun=1), 0.0)
    data = wire.drain()
    assert type(data) is FramedBytes
    assert [type(p) for p in data.parts] == [Frame, bytes, Frame]
    assert [p.seq for p in data.parts if isinstance(p, Frame)] == [1, 3]
    assert data == encode_frame(_realtime(1.5), 1) + encode_frame(sync, 2) + data.parts[2].raw
    assert wire.drain() == b""


@pytest.fixture
def checked_framers(monkeypatch):
    """Every FramedBytes a framer takes is also parsed; the two must agree exactly
    (reprs: ``55`` is not ``55.0``)."""
    feed = framer_module.Framer.feed
    taken: Counter[str] = Counter()
    mismatches: list[str] = []

    def checking_feed(self, data):
        if type(data) is FramedBytes:
            reference = Framer(tolerant=self._tolerant, only=self._wanted)
            parsed = feed(reference, bytes(data))
            for part in data.parts:
                if not isinstance(part, Frame):
                    continue
                alone = Framer(tolerant=self._tolerant, only=self._wanted).feed(part.raw)
                if self._wanted is None or part.type in self._wanted:
                    taken[part.name] += 1
                    if repr(alone) != repr([part]):
                        mismatches.append(f"{alone!r} != {part!r}")
            if repr(parsed) != repr(feed(Framer(tolerant=self._tolerant, only=self._wanted), data)):
                mismatches.append(f"the whole of {bytes(data).hex()}")
        return feed(self, data)

    monkeypatch.setattr(framer_module.Framer, "feed", checking_feed)
    return taken, mismatches


def test_every_frame_handed_on_in_busy_runs_is_what_parsing_gives(checked_framers):
    """A quirky busy station-week (every gun charging, offline spells, BMS frames), a
    late-bill incident and an old-line week: the by-reference types round-trip exactly."""
    taken, mismatches = checked_framers
    spec = WorkloadSpec(profile="sinexcel-dc@2090104", piles=4, days=3, seed=7)
    run_scenario(station_workload(spec, random.Random(7), name="check"))
    old = WorkloadSpec(profile="sinexcel-dc@11523", piles=4, days=3, seed=3)
    run_scenario(station_workload(old, random.Random(3), name="check-old"))
    run_scenario(load_scenario("zpd_case_17"))
    assert mismatches == []
    assert taken["realtime_data"] > 3_000
    assert taken["demand_output"] > 1_000
