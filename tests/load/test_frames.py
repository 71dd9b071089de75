"""Frame heads and the load recorder's bookkeeping, without sockets."""

from __future__ import annotations

from datetime import datetime, timedelta

from simrig.load.frames import heads
from simrig.load.metrics import LoadObserver
from simrig.protocol.ykc import Heartbeat, HeartbeatReply, encode_frame

PILE = "32010200000001"


def _hb(seq: int) -> bytes:
    return encode_frame(Heartbeat(pile_no=PILE, gun=1), seq)


def _reply(seq: int) -> bytes:
    return encode_frame(HeartbeatReply(pile_no=PILE, gun=1), seq)


def test_heads_reads_type_and_seq_and_leaves_an_incomplete_frame():
    data = b"\x00\x01" + _hb(7) + _hb(8)[:5]
    found, used, skipped = heads(data)
    assert [(t, s) for t, s, _, _ in found] == [(0x03, 7)]
    assert skipped == 2 and used == 2 + len(_hb(7))


def test_observer_times_a_reply_split_across_reads_and_counts_a_wrong_seq():
    obs = LoadObserver([PILE], speed=1.0, wall=lambda t: datetime(2026, 1, 1) + timedelta(t))
    obs.sent(PILE, _hb(1) + _hb(2), 0.0)
    obs.delivered(PILE, "up", _hb(1) + _hb(2), 0.0)
    reply = _reply(1)
    obs.received(PILE, reply[:4], 0.0)  # split inside the frame
    obs.received(PILE, reply[4:] + _reply(0x0200), 0.0)  # the second: seq not echoed
    obs.delivered(PILE, "down", reply + _reply(0x0200), 0.0)
    assert obs.backend["heartbeat"].get_total_count() == 2
    assert obs.pile_seen["heartbeat"].get_total_count() == 2
    assert obs.counters.replies_unmatched == 1
    assert obs.counters.frames_up == 2 and obs.counters.frames_down == 2
    assert not obs.piles[PILE].pending[0x03]  # both answered, nothing kept
