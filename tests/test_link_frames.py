"""Frame rules and event outages of the link model (simrig.link_frames), pure and in a
virtual run: the same layer the proxy and the real-time driver use."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from simrig.link import EventOutage, FrameFaults, FrameRule, Link, LinkModel
from simrig.protocol.ykc import (
    Framer,
    Heartbeat,
    RecordAck,
    encode_frame,
)
from simrig.scenarios import ScenarioError, load_scenario, parse_scenario
from simrig.scenarios.schema import NetworkDef
from simrig.sim.runner import run_scenario

pytestmark = pytest.mark.realtime

PILE = "55031412782305"
SERIAL = PILE + "01" + "191029100130" + "0001"
ACK = encode_frame(RecordAck(serial=SERIAL, result=0), 7)
BEAT = encode_frame(Heartbeat(pile_no=PILE, gun=1), 1)


def framed(rules=(), outages=(), **kw) -> Link:
    rng = random.Random(1) if kw else None
    return Link.symmetric(rng, rng, **kw).with_frames(FrameFaults(rules, outages))


def test_withhold_the_first_three_acks_then_let_them_through() -> None:
    link = framed([FrameRule("down", 0x40, "drop", nth=1, times=3)])
    got = [link.down.send(ACK, float(t)) for t in range(5)]
    assert got[:3] == [[], [], []]
    assert got[3] == [(3.0, ACK)] and got[4] == [(4.0, ACK)]
    assert link.down.stats.dropped_by_rule == 3
    assert link.up.send(ACK, 9.0) == [(9.0, ACK)]  # the rule is for one direction only


def test_rules_count_frames_of_their_type_only_even_inside_one_write() -> None:
    link = framed([FrameRule("down", 0x40, "drop", nth=2, times=1)])
    out = link.down.send(BEAT + ACK + BEAT + ACK + ACK, 0.0)
    assert [d for _, d in out] == [BEAT, ACK, BEAT, ACK]  # the 2nd ack is gone


def test_duplicate_with_a_gap_resends_later_and_does_not_hold_the_stream() -> None:
    link = framed([FrameRule("down", 0x36, "duplicate", delay_s=5.0)])
    from simrig.protocol.ykc import RemoteStop

    stop = encode_frame(RemoteStop(pile_no=PILE, gun=1), 3)
    assert link.down.send(stop, 10.0) == [(10.0, stop), (15.0, stop)]
    assert link.down.send(BEAT, 11.0) == [(11.0, BEAT)]  # not behind the copy


def test_delay_holds_the_frame_and_what_follows_it_fifo() -> None:
    link = framed([FrameRule("up", 0x03, "delay", delay_s=2.0)])
    assert link.up.send(BEAT, 0.0) == [(2.0, BEAT)]
    assert link.up.send(ACK, 0.5) == [(2.0, ACK)]  # a TCP stream: nothing overtakes


def test_split_frames_are_held_until_complete_and_garbage_passes() -> None:
    link = framed([FrameRule("down", 0x40, "drop")])
    assert link.down.send(b"\x00\x01junk" + ACK[:5], 0.0) == [(0.0, b"\x00\x01junk")]
    assert link.down.send(ACK[5:] + ACK, 1.0) == [(1.0, ACK)]  # 1st dropped, 2nd through
    link.down.send(ACK[:4], 2.0)
    assert link.down.flush(3.0) == [(3.0, ACK[:4])]  # end of stream: the held bytes


def test_a_new_stream_voids_the_bytes_held_from_the_last_one() -> None:
    link = framed([FrameRule("down", 0x40, "drop", nth=2)])
    assert link.down.send(ACK, 0.0) == [(0.0, ACK)]
    assert link.down.send(ACK[:6], 1.0) == []  # held: an incomplete frame
    link.new_stream()
    assert link.down.send(ACK, 2.0) == []  # the 2nd 0x40 (counts go on), no stale bytes
    assert link.down.send(ACK, 3.0) == [(3.0, ACK)]


def test_byte_faults_still_apply_to_frames_and_draw_as_before() -> None:
    """Without a rule acting, a framed link with the same rng gives the plain model's
    deliveries when each write is one frame (one draw of six numbers per write)."""
    plain = LinkModel(random.Random(3), latency_s=0.1, jitter_s=0.05, loss=0.2, corrupt=0.2)
    link = Link(
        LinkModel(random.Random(3), latency_s=0.1, jitter_s=0.05, loss=0.2, corrupt=0.2),
        LinkModel(None),
    ).with_frames(FrameFaults([FrameRule("down", 0x40, "drop")]))
    for t in range(300):
        assert link.up.send(BEAT, float(t)) == plain.send(BEAT, float(t))
    assert plain.stats.corrupted > 0 and plain.stats.lost_random > 0


def test_event_outage_after_each_sessions_first_realtime_frame() -> None:
    from simrig.protocol.ykc import RealtimeData

    faults = FrameFaults(outages=[EventOutage("up", 0x13, after_s=60.0, duration_s=30.0)])
    link = Link.symmetric(None).with_frames(faults)
    rt = [encode_frame(RealtimeData(serial=SERIAL, pile_no=PILE, gun=1), i) for i in range(3)]
    idle = encode_frame(RealtimeData(pile_no=PILE, gun=1), 9)  # no order: no session
    link.up.send(idle, 5.0)
    assert link.is_up(100.0) and faults.opened == []
    link.up.send(rt[0], 10.0)
    link.up.send(rt[1], 20.0)  # the same session: no second window
    assert faults.opened == [(70.0, 100.0)]
    assert link.up.send(rt[2], 75.0) == [] and link.down.send(ACK, 80.0) == []
    assert link.next_change(80.0) == 100.0 and link.is_up(100.0)


def test_no_frame_faults_no_frame_layer() -> None:
    link = Link.symmetric(None).with_frames(FrameFaults())
    assert link.up.frames is None and link.down.send(ACK[:3], 0.0) == [(0.0, ACK[:3])]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('type = "0x99"\ndirection = "down"\naction = "drop"', "no YKC frame type 0x99"),
        ('type = "0x40"\ndirection = "sideways"\naction = "drop"', "direction"),
        ('type = "0x40"\ndirection = "down"\naction = "drop"\nnth = 0', "nth"),
    ],
)
def test_bad_frame_rules_in_a_scenario_name_file_line_and_field(toml: str, message: str) -> None:
    text = (
        '[meta]\nname = "x"\n[[piles]]\npile_no = "55031412782305"\nprofile = "generic-dc@1.0"\n'
        f"[[network]]\n[[network.frame_rules]]\n{toml}\n"
    )
    with pytest.raises(ScenarioError, match=rf"^s.toml:\d+: network.*{message}"):
        parse_scenario(text, source="s.toml")


def test_event_outage_on_a_frame_without_serial_needs_nth() -> None:
    with pytest.raises(ValueError, match="give nth"):
        NetworkDef.model_validate({"event_outages": [{"on": "0x03", "duration": "1m"}]})


def _with_network(name: str, **network: object):
    scenario = load_scenario(name)
    net = NetworkDef.model_validate({"pile": scenario.piles[0].pile_no, **network})
    return scenario.model_copy(update={"network": (net,)})


def test_virtual_run_withholding_acks_makes_the_pile_retry_its_bill() -> None:
    """S1 §8.7: without a 0x40 the pile re-sends its 0x3B every 30 s; three 0x40 withheld
    → four transmissions, the fourth acked. Recorded chunks are what each side wrote."""
    rule = {"direction": "down", "type": "record_ack", "action": "drop", "times": 3}
    result = run_scenario(_with_network("basic_card_session", frame_rules=[rule]))
    up = [f for c in result.chunks if c.direction == "up" for f in Framer().feed(c.data)]
    bills = [f for f in up if f.type == 0x3B]
    assert len(bills) == 4 and len({f.message.serial for f in bills}) == 1
    plain = run_scenario(load_scenario("basic_card_session"))
    plain_bills = [c for c in plain.chunks if c.direction == "up" and c.data[5] == 0x3B]
    assert len(plain_bills) == 1


def test_virtual_run_event_outage_takes_the_pile_offline_mid_charge() -> None:
    """zpd_case#12's mechanism without absolute times: 20 min after the session's first
    0x13 the link goes down for 14 min; the pile loses its connection and comes back."""
    outage = {"on": "0x13", "after": "20m", "duration": "14m"}
    scenario = _with_network("zpd_case#12", event_outages=[outage])
    result = run_scenario(scenario)
    first_rt = next(
        c.at
        for c in result.chunks
        if c.direction == "up" and c.data[5] == 0x13 and c.data[6:22] != bytes(16)
    )
    gone = [e for e in result.events if e.kind == "disconnected"]
    assert gone, "the pile never lost its link"
    lost_at = result.wall(gone[0].t)
    assert (lost_at - first_rt).total_seconds() > 20 * 60
    assert (lost_at - first_rt).total_seconds() < 20 * 60 + 120
    assert isinstance(lost_at, datetime)


def test_frame_rules_keep_runs_deterministic() -> None:
    """Same scenario + seed ⇒ same frames, byte for byte, with rules and byte faults."""
    rules = [
        {"direction": "down", "type": "0x40", "action": "drop", "times": 2},
        {"direction": "up", "type": "0x3B", "action": "duplicate", "delay": "5s"},
    ]
    scenario = _with_network("basic_card_session", frame_rules=rules, loss=0.02, jitter_ms=30)
    runs = [run_scenario(scenario) for _ in range(2)]
    a, b = ([(c.at, c.direction, c.data) for c in r.chunks] for r in runs)
    assert a == b and len(a) > 100


def test_realtime_driver_delivers_a_late_copy_in_time_order() -> None:
    """The real-time driver uses the same layer: a 0x3B copied 40 s later reaches the
    platform process twice (it acks both), while frames written after it are not held."""
    rule = {"direction": "up", "type": "0x3B", "action": "duplicate", "delay": "40s"}
    scenario = _with_network("basic_card_session", frame_rules=[rule])
    # 200x: 10 s of tolerance is 50 ms of real time (at 600x a loaded CI machine's 17 ms
    # of scheduling jitter moved an ack out of it)
    result = run_scenario(scenario, backend="embedded-tcp", speed=200)
    framer_up, framer_down = Framer(), Framer()
    up = [f.type for c in result.chunks if c.direction == "up" for f in framer_up.feed(c.data)]
    down = [
        (c.at, f.type) for c in result.chunks if c.direction == "down"
        for f in framer_down.feed(c.data)
    ]  # fmt: skip
    acks = [at for at, t in down if t == 0x40]
    assert up.count(0x3B) == 1 and len(acks) == 2
    assert 30 <= (acks[1] - acks[0]).total_seconds() <= 60
    assert result.verdicts[0].orders[0].device_bill.acked
    # the heartbeats written after the 0x3B were not held behind its copy
    beats = [at for at, t in down if t == 0x04 and acks[0] < at < acks[1]]
    assert len(beats) >= 3
