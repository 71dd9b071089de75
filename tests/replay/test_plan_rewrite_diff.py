"""The pure replay core on a hand-built capture: the plan, the fresh values, the diff."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from simrig.capture.record import Chunk, LinkEvent
from simrig.oracle.device_view import device_orders
from simrig.oracle.views import AckState
from simrig.protocol.ykc import (
    AckResult,
    CardAuthReply,
    CardStart,
    Confirm,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    LoginResult,
    RealtimeData,
    RecordAck,
    RemoteStart,
    RemoteStartReply,
    TimeSync,
    TimeSyncReply,
    TransactionRecord,
    decode_frame,
    encode_frame,
)
from simrig.replay import Rewriter, build_plan, diff_replay
from simrig.replay.plan import read_frames

PILE, NEW_PILE = "55031412782305", "55031412789999"
CARD = "00000000D14B0A54"
T0 = datetime(2019, 10, 29, 10, 0)
FRESH_T0 = datetime(2025, 6, 10, 14, 0)
OLD_SERIAL = PILE + "01" + "191029100130" + "0001"
SUFFIXES = (".pcapng", ".jsonl")
NEW_SERIAL = NEW_PILE + "01" + "250610140130" + "0007"


def _bill(serial: str, pile: str, start: datetime) -> TransactionRecord:
    return TransactionRecord(
        serial=serial, pile_no=pile, gun=1, start_time=start,
        end_time=start + timedelta(minutes=20), trade_time=start + timedelta(minutes=21),
        total_energy=12.5, total_amount=20.0, physical_card=CARD,
    )  # fmt: skip


def _recorded() -> list[Chunk | LinkEvent]:
    """A login, a time sync, a card start, a realtime frame, a bill and its ack."""

    def at(s: float) -> datetime:
        return T0 + timedelta(seconds=s)

    def up(s: float, msg: object, seq: int) -> Chunk:
        return Chunk(at(s), PILE, "up", encode_frame(msg, seq))  # type: ignore[arg-type]

    def down(s: float, msg: object, seq: int) -> Chunk:
        return Chunk(at(s), PILE, "down", encode_frame(msg, seq))  # type: ignore[arg-type]

    return [
        LinkEvent(at(0), PILE, "connected", 1),
        up(0, Login(pile_no=PILE, firmware_version="GEN1.0"), 1),
        down(0.02, LoginReply(PILE, LoginResult.OK), 1),
        down(0.02, TimeSync(PILE, T0), 0),
        up(0.04, TimeSyncReply(PILE, T0), 0),
        up(90, CardStart(pile_no=PILE, gun=1, card=CARD), 2),
        down(90.02, CardAuthReply(serial=OLD_SERIAL, pile_no=PILE, gun=1, result=Confirm.OK), 2),
        up(105, RealtimeData(serial=OLD_SERIAL, pile_no=PILE, gun=1, energy=1.0), 3),
        up(1400, _bill(OLD_SERIAL, PILE, at(120)), 4),
        down(1400.05, RecordAck(OLD_SERIAL, AckResult.OK), 4),
        LinkEvent(at(1500), PILE, "disconnected", 1),
    ]


def _fresh_backend(
    rewriter: Rewriter, ack: AckResult | None = AckResult.OK, ack_delay: float = 0.05
) -> list[Chunk | LinkEvent]:
    """What a fresh backend (another clock, another serial counter) answers to the replay."""
    plan = build_plan(read_frames(_recorded()))
    (script,) = plan.piles.values()
    items: list[Chunk | LinkEvent] = [LinkEvent(FRESH_T0, NEW_PILE, "connected", 1)]

    def reply(msg: object, seq: int, at: datetime) -> None:
        frame = decode_frame(encode_frame(msg, seq))  # type: ignore[arg-type]
        rewriter.received(NEW_PILE, frame)
        items.append(Chunk(at, NEW_PILE, "down", frame.raw))

    for step in script.connections[0].steps:
        if step.synthetic:
            continue  # the heartbeats put back: as fast as replies, none are sent
        at = FRESH_T0 + timedelta(seconds=step.offset_s)
        data = rewriter.outgoing(step.frame)
        items.append(Chunk(at, NEW_PILE, "up", data))
        sent = decode_frame(data)
        later = at + timedelta(seconds=0.02)
        if isinstance(sent.message, Login):
            reply(LoginReply(NEW_PILE, LoginResult.OK), sent.seq, later)
            reply(TimeSync(NEW_PILE, FRESH_T0), 0x30, later)
        elif isinstance(sent.message, CardStart):
            auth = CardAuthReply(serial=NEW_SERIAL, pile_no=NEW_PILE, gun=1, result=Confirm.OK)
            reply(auth, sent.seq, later)
        elif isinstance(sent.message, TransactionRecord) and ack is not None:
            reply(RecordAck(NEW_SERIAL, ack), sent.seq, at + timedelta(seconds=ack_delay))
    items.append(LinkEvent(FRESH_T0 + timedelta(seconds=1500), NEW_PILE, "disconnected", 1))
    return items


def _rewriter() -> Rewriter:
    return Rewriter.for_recording(read_frames(_recorded()), {PILE: NEW_PILE})


def test_the_plan_holds_each_pile_frame_with_the_replies_it_waited_for():
    plan = build_plan(read_frames(_recorded()))
    (script,) = plan.piles.values()
    (conn,) = script.connections
    steps = [s for s in conn.steps if not s.synthetic]
    assert [s.frame.type for s in steps] == [0x01, 0x55, 0x31, 0x13, 0x3B]
    assert [s.offset_s for s in steps] == [0, 0.04, 90, 105, 1400]
    assert steps[0].gate == ()
    assert steps[1].gate == ((0x02, 1), (0x56, 1))
    assert dict(steps[3].gate)[0x32] == 1
    assert dict(conn.tail_gate)[0x40] == 1
    assert (conn.opened_s, conn.closed_s) == (0, 1500)
    assert steps[1].frame.echo and not steps[2].frame.echo


def test_fresh_values_are_rewritten_and_the_frames_stay_valid():
    rewriter = _rewriter()
    items = _fresh_backend(rewriter)
    sent = [decode_frame(c.data) for c in items if isinstance(c, Chunk) and c.direction == "up"]
    login, sync_reply, card, realtime, bill = sent  # strict decoding: CRCs recomputed
    assert rewriter.clock_learned and rewriter.clock_offset == FRESH_T0 - T0
    assert rewriter.serials == {OLD_SERIAL: NEW_SERIAL}
    assert {f.message.pile_no for f in sent} == {NEW_PILE}
    assert [login.seq, card.seq, realtime.seq, bill.seq] == [1, 2, 3, 4]
    assert sync_reply.seq == 0x30  # echoes the fresh 0x56, as the recorded one echoed its own
    assert sync_reply.message.time == FRESH_T0
    assert realtime.message.serial == bill.message.serial == NEW_SERIAL
    shift = FRESH_T0 - T0
    assert bill.message.start_time == T0 + timedelta(seconds=120) + shift
    assert bill.message.end_time - bill.message.start_time == timedelta(minutes=20)
    assert bill.message.total_energy == 12.5


def test_a_backend_that_answers_as_recorded_gives_no_difference():
    rewriter = _rewriter()
    fresh = read_frames(_fresh_backend(rewriter))
    diff = diff_replay(read_frames(_recorded()), fresh, rewriter, timing_tolerance_s=1.0)
    assert diff.same, diff.differences
    assert diff.recorded_replies == diff.fresh_replies == diff.matched == 4


def test_an_illegal_ack_is_a_field_and_a_verdict_difference():
    rewriter = _rewriter()
    fresh = read_frames(_fresh_backend(rewriter, ack=AckResult.ILLEGAL))
    diff = diff_replay(read_frames(_recorded()), fresh, rewriter)
    found = {(d.kind, d.what, d.field, d.recorded, d.fresh) for d in diff.differences}
    assert found == {
        ("field", "0x40 record_ack #1", "result", "ok (0)", "illegal (1)"),
        ("verdict", f"order {OLD_SERIAL}", "bill ack_state", "acked", "illegal"),
    }


def test_a_missing_ack_and_a_slow_one_are_reported():
    rewriter = _rewriter()
    fresh = read_frames(_fresh_backend(rewriter, ack=None))
    diff = diff_replay(read_frames(_recorded()), fresh, rewriter)
    assert {(d.kind, d.what) for d in diff.differences} == {
        ("missing", "0x40 record_ack #1"),
        ("verdict", f"order {OLD_SERIAL}"),
    }
    rewriter = _rewriter()
    fresh = read_frames(_fresh_backend(rewriter, ack_delay=10.0))
    diff = diff_replay(read_frames(_recorded()), fresh, rewriter, timing_tolerance_s=2.0)
    [timing] = diff.differences
    assert (timing.kind, timing.what, timing.recorded, timing.fresh) == (
        "timing", "0x40 record_ack #1", "0.050 s", "10.000 s",
    )  # fmt: skip


def test_an_ack_late_by_less_than_the_timing_tolerance_is_no_verdict_difference():
    """Acked 40 s after the bill (past the pile's 30 s retry: "acked late") where the
    recording had 0.05 s: within a tolerance of 300 s it is no difference at all (a
    loaded replay at 600× is that late); beyond a tolerance of 2 s it is a timing and a
    verdict difference."""
    rewriter = _rewriter()
    fresh = read_frames(_fresh_backend(rewriter, ack_delay=40.0))
    [bill] = [b for o in device_orders(fresh.chunks) for b in o.bills]
    assert bill.ack_state == AckState.ACKED_LATE
    diff = diff_replay(read_frames(_recorded()), fresh, rewriter, timing_tolerance_s=300.0)
    assert diff.same, diff.differences
    rewriter = _rewriter()
    fresh = read_frames(_fresh_backend(rewriter, ack_delay=40.0))
    diff = diff_replay(read_frames(_recorded()), fresh, rewriter, timing_tolerance_s=2.0)
    assert {(d.kind, d.field, d.recorded, d.fresh) for d in diff.differences} == {
        ("timing", "delay", "0.050 s", "40.000 s"),
        ("verdict", "bill ack_state", "acked", "acked_late"),
    }


def test_heartbeats_sent_on_paper_are_put_back_where_none_was_recorded():
    """Idle from 0.02 s to 90 s: the pile's 10 s schedule from its login, re-anchored by
    the one heartbeat the capture holds (at 41 s); none after the connection's end."""
    items = _recorded()
    beat = Chunk(T0 + timedelta(seconds=41), PILE, "up", encode_frame(Heartbeat(PILE, 1), 9))
    items.insert(5, beat)
    plan = build_plan(read_frames(items))
    (conn,) = plan.piles[PILE].connections
    put_back = [s.offset_s for s in conn.steps if s.synthetic]
    assert put_back[:5] == [10.02, 20.02, 30.02, 51.0, 61.0]
    assert put_back[-1] < 1500 and len(put_back) == 4 + (1500 - 61) // 10 + 1
    assert all(s.frame.type == 0x03 for s in conn.steps if s.synthetic)
    assert plan.frames == 6 and plan.paper_heartbeats == {PILE}
    times = [s.offset_s for s in conn.steps]
    assert times == sorted(times)
    rewriter = _rewriter()
    first = next(s for s in conn.steps if s.synthetic)
    sent = decode_frame(rewriter.outgoing(first.frame, synthetic=True))
    assert sent.message == Heartbeat(NEW_PILE, 1) and (NEW_PILE, sent.seq) in rewriter.synthetic_seq


def test_a_jsonl_capture_splits_into_the_connections_of_the_pcapng():
    """``frames.jsonl`` has no connection events: a pile's second login is a reconnect.
    (Heartbeats put back may differ: without a close event a connection ends at its last
    frame.)"""
    from simrig.capture.formats import read_capture

    captures = Path(__file__).parents[2] / "captures"
    plans = [build_plan(read_frames(read_capture(captures / f"zpd_case_12{s}"))) for s in SUFFIXES]
    by_suffix = [
        [
            [s.frame.raw for s in c.steps if not s.synthetic]
            for p in plan.piles.values()
            for c in p.connections
        ]
        for plan in plans
    ]
    assert len(by_suffix[0]) == 2 and by_suffix[0] == by_suffix[1]


def test_a_reply_after_the_next_request_still_echoes_its_own():
    """Under load a 0x04 can come after the next 0x03 went out (§1.3: it carries the
    number of the heartbeat it answers); its delay counts from that heartbeat."""

    def chunk(s: float, direction: str, msg: object, seq: int) -> Chunk:
        return Chunk(T0 + timedelta(seconds=s), PILE, direction, encode_frame(msg, seq))  # type: ignore[arg-type]

    framed = read_frames(
        [
            chunk(0, "up", Heartbeat(PILE, 1), 5),
            chunk(10, "up", Heartbeat(PILE, 1), 6),
            chunk(10.5, "down", HeartbeatReply(PILE, 1), 5),
            chunk(10.6, "down", HeartbeatReply(PILE, 1), 9),
        ]
    )
    late, stray = framed.down(PILE)
    assert late.echo and late.since == T0
    assert not stray.echo and stray.since == T0 + timedelta(seconds=10)


def test_an_app_start_serial_is_mapped_when_the_backend_sends_its_0x34():
    """The backend allocates an app order's serial in its 0x34 (§4.9): the pile's 0x33
    echoes the fresh 0x34's number and every later frame carries the fresh serial."""

    def chunk(s: float, direction: str, msg: object, seq: int) -> Chunk:
        return Chunk(T0 + timedelta(seconds=s), PILE, direction, encode_frame(msg, seq))  # type: ignore[arg-type]

    start = RemoteStart(serial=OLD_SERIAL, pile_no=PILE, gun=1, balance=50.0)
    plan = build_plan(
        read_frames(
            [
                chunk(0, "down", start, 7),
                chunk(0.1, "up", RemoteStartReply(OLD_SERIAL, PILE, 1, Confirm.OK), 7),
                chunk(15, "up", RealtimeData(serial=OLD_SERIAL, pile_no=PILE, gun=1), 3),
            ]
        )
    )
    rewriter = Rewriter.for_recording(plan.recorded)
    fresh = RemoteStart(serial=NEW_SERIAL, pile_no=PILE, gun=1, balance=50.0)
    rewriter.received(PILE, decode_frame(encode_frame(fresh, 0x21)))
    reply, realtime = (
        decode_frame(rewriter.outgoing(s.frame)) for s in plan.piles[PILE].connections[0].steps
    )
    assert (reply.seq, reply.message.serial) == (0x21, NEW_SERIAL)
    assert realtime.message.serial == NEW_SERIAL and realtime.seq == 1
