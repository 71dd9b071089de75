"""The rig's own lateness (:mod:`simrig.sim.lateness`): where the driver fired timers
late, sessions it would blame the backend for are "not judged", never coded."""

from __future__ import annotations

from datetime import datetime, timedelta

from simrig.endpoint import Event
from simrig.link import Link
from simrig.oracle.judge import SessionVerdict
from simrig.oracle.views import TruthRecord
from simrig.sim.lateness import (
    EFFECT_S,
    RIG_LATE_S,
    BackendSilences,
    Lateness,
    gives_backend_up,
    slow_replies,
    unjudge_where_late,
)
from simrig.sim.results import ExpectationResult

EPOCH = datetime(2019, 10, 29, 10, 0)


def test_delays_up_to_the_threshold_are_not_late_and_a_spell_merges_what_follows() -> None:
    late = Lateness()
    late.note("P", 100.0, 100.0 + RIG_LATE_S)  # at the threshold: on time
    assert late.spells == {} and late.worst_s == RIG_LATE_S
    late.note("P", 300.0, 450.0)
    late.note("P", 460.0, 480.0)  # within the first spell's effect: the same spell
    late.note("P", 480.0 + EFFECT_S + 1, 480.0 + EFFECT_S + 20)  # a new one
    [first, second] = late.spells["P"]
    assert (first.start, first.end, first.worst_s) == (300.0, 480.0, 150.0)
    assert second.worst_s == 19.0
    assert late.overlapping("P", 0.0, 299.0) is None
    assert late.overlapping("P", 0.0, 300.0) is first
    assert late.overlapping("P", 480.0 + EFFECT_S, 600.0) is first  # its effects reach here
    assert late.overlapping("Q", 0.0, 1e9) is None
    assert "up to 150.0 s of scenario time, 1500 ms real at 100x" in first.text("P", 100.0)


def _verdict(
    pile: str, index: int, plug_s: float, unplug_s: float | None, codes: set[int]
) -> SessionVerdict:
    truth = TruthRecord(
        pile_no=pile,
        gun=1,
        index=index,
        plug_at=EPOCH + timedelta(seconds=plug_s),
        unplug_at=None if unplug_s is None else EPOCH + timedelta(seconds=unplug_s),
        charge_start=None,
        charge_end=None,
        energy_kwh=0.0,
    )
    return SessionVerdict(truth=truth, orders=(), codes=frozenset(codes))


def test_only_sessions_blamed_where_the_rig_was_late_are_not_judged() -> None:
    late = Lateness()
    late.note("A", 300.0, 450.0)
    blamed_in_spell = _verdict("A", 1, 0.0, 600.0, {9})
    clean_in_spell = _verdict("B", 1, 0.0, None, set())
    blamed_elsewhere = _verdict("A", 2, 1000.0, 1600.0, {1})
    other_pile = _verdict("B", 2, 0.0, 600.0, {9})
    clean_on_a = _verdict("A", 3, 100.0, 700.0, set())
    verdicts = [blamed_in_spell, clean_in_spell, blamed_elsewhere, other_pile, clean_on_a]
    expectations = [ExpectationResult(v.key, not v.codes, "codes=[]", "x") for v in verdicts]

    def seconds(at: datetime) -> float:
        return (at - EPOCH).total_seconds()

    judged, checked = unjudge_where_late(verdicts, expectations, late, seconds, 3600.0, 100.0)
    assert judged[0].not_judged.startswith("A: the rig ran late, up to 150.0 s")
    assert judged[0].codes == frozenset() and not judged[0].judged
    assert judged[1:] == verdicts[1:]  # clean, later, on another pile: judged as they were
    assert not checked[0].passed and checked[0].actual.startswith("not judged (A: the rig")
    assert checked[1:] == expectations[1:]


def _link(outages: tuple[tuple[float, float], ...] = (), latency_s: float = 0.0) -> Link:
    return Link.symmetric(None, latency_s=latency_s, outages=outages)


def test_a_short_backend_silence_a_pile_gave_up_is_a_backend_spell_that_unjudges() -> None:
    late = Lateness()
    silences = BackendSilences(late, speed=600.0)  # a hiccup: under 600 scenario seconds
    link = _link()
    silences.heard("A", 100.0, link)
    silences.given_up("A", 135.0, link)  # 3 heartbeats unanswered
    silences.heard("A", 190.0, link)  # the backend speaks again: 90 s, 150 ms real
    [spell] = late.spells["A"]
    assert (spell.start, spell.end, spell.backend) == (100.0, 190.0, True)
    assert spell.text("A", 600.0) == (
        "A: the backend was silent 90.0 s of scenario time, 150 ms real at 600x, between "
        "t=100 s and t=190 s, and the pile gave it up: too short to tell an outage from a "
        "hiccup; judge it at a lower --speed"
    )
    blamed = _verdict("A", 1, 0.0, 600.0, {9})
    expectation = ExpectationResult(blamed.key, False, "codes=[]", "codes=[9]")
    [judged], [checked] = unjudge_where_late(
        [blamed], [expectation], late, lambda at: (at - EPOCH).total_seconds(), 3600.0, 600.0
    )
    assert not judged.judged and judged.codes == frozenset()
    assert judged.not_judged.endswith("(timing sped up past what the rig can tell)")
    assert checked.actual.startswith("not judged (A: the backend was silent")


def test_a_silence_the_backend_ends_after_a_real_second_is_its_own() -> None:
    late = Lateness()
    silences = BackendSilences(late, speed=100.0)  # a second real: 100 scenario seconds
    link = _link()
    silences.heard("A", 100.0, link)
    silences.given_up("A", 135.0, link)
    silences.heard("A", 201.0, link)  # 1.01 s real: an outage the backend had
    assert late.spells == {}


def test_a_give_up_the_scenarios_link_explains_is_no_backend_silence() -> None:
    late = Lateness()
    silences = BackendSilences(late, speed=600.0)
    outage = _link(outages=((120.0, 130.0),))
    silences.heard("A", 100.0, outage)
    silences.given_up("A", 135.0, outage)  # the scenario's outage
    silences.heard("A", 150.0, outage)
    slow = _link(latency_s=30.0)
    silences.heard("B", 100.0, slow)
    silences.given_up("B", 140.0, slow)  # the backend spoke; the link held it back
    silences.heard("B", 150.0, slow)
    lossy = _link()
    silences.heard("C", 100.0, lossy)
    lossy.down.stats.lost_random += 1  # a reply the scenario's link lost
    silences.given_up("C", 135.0, lossy)
    silences.heard("C", 150.0, lossy)
    assert late.spells == {}


def test_a_silence_still_open_when_the_run_ends_short_is_not_known_either() -> None:
    late = Lateness()
    silences = BackendSilences(late, speed=600.0)
    link = _link()
    silences.heard("A", 100.0, link)
    silences.given_up("A", 135.0, link)
    silences.end(300.0)
    assert [(s.start, s.end) for s in late.spells["A"]] == [(100.0, 300.0)]
    silences.heard("B", 100.0, link)
    silences.given_up("B", 135.0, link)
    silences.end(800.0)  # 700 s, over a real second: the backend was gone
    assert "B" not in late.spells


def test_the_pile_gives_the_backend_up_on_heartbeats_login_and_card_auth_only() -> None:
    def event(kind: str, **data: str) -> Event:
        return Event(10.0, kind, "A", 1, dict(data))

    assert gives_backend_up(event("heartbeat_lost"))
    assert gives_backend_up(event("login_timeout"))
    assert gives_backend_up(event("start_refused", why="auth_timeout"))
    assert not gives_backend_up(event("start_refused", why="gun_busy"))  # the pile's own
    assert not gives_backend_up(event("login_refused"))  # the backend answered: no
    assert not gives_backend_up(event("link_down"))


def _frame(t: float, kind: str, code: int, name: str, pile: str = "A") -> Event:
    return Event(t, kind, pile, None, {"type": code, "name": name, "hex": ""})


def test_a_reply_sped_up_past_the_tolerances_is_the_backends_spell() -> None:
    """At 600x a backend that stalls 67 ms answers a bill 40 s of scenario time late:
    the times it records move that much, and the rig cannot tell a stall from a slow
    backend; at 10x the same 40 s are 4 s real, the backend's own."""
    events = [
        _frame(100.0, "frame_sent", 0x3B, "transaction_record"),
        _frame(140.0, "frame_received", 0x40, "record_ack"),
    ]
    late = Lateness()
    slow_replies(events, {"A": _link()}, late, 600.0)
    [spell] = late.spells["A"]
    assert spell.text("A", 600.0) == (
        "A: the backend answered with record_ack after 40.0 s of scenario time, 67 ms real "
        "at 600x, between t=100 s and t=140 s: too short to tell a slow backend from a "
        "hiccup; judge it at a lower --speed"
    )
    assert spell.reason("A", 600.0).endswith("(timing sped up past what the rig can tell)")
    slower = Lateness()
    slow_replies(events, {"A": _link()}, slower, 10.0)
    assert slower.spells == {}


def test_replies_the_link_or_the_backends_own_choice_explain_are_no_spell() -> None:
    """A retransmission answered at once (the backend ignored the first bill: its own
    verdict), the link's latency, a lossy link, a connection closed in between, and a
    prompt reply are all judged as they are."""
    retransmitted = [
        _frame(100.0, "frame_sent", 0x3B, "transaction_record"),
        _frame(160.0, "frame_sent", 0x3B, "transaction_record"),
        _frame(160.5, "frame_received", 0x40, "record_ack"),
    ]
    slow_link = [
        _frame(100.0, "frame_sent", 0x31, "card_start"),
        _frame(161.0, "frame_received", 0x32, "card_auth_reply"),
    ]
    closed = [
        _frame(100.0, "frame_sent", 0x01, "login"),
        Event(110.0, "disconnected", "A"),
        _frame(200.0, "frame_received", 0x02, "login_reply"),
    ]
    prompt = [
        _frame(100.0, "frame_sent", 0x03, "heartbeat"),
        _frame(100.2, "frame_received", 0x04, "heartbeat_reply"),
    ]
    lossy = _link()
    lossy.down.stats.lost_random += 1
    late = Lateness()
    slow_replies(retransmitted, {"A": _link()}, late, 600.0)
    slow_replies(slow_link, {"A": _link(latency_s=30.0)}, late, 600.0)
    slow_replies(closed, {"A": _link()}, late, 600.0)
    slow_replies(prompt, {"A": _link()}, late, 600.0)
    late_bill_ack = [
        _frame(100.0, "frame_sent", 0x3B, "transaction_record"),
        _frame(140.0, "frame_received", 0x40, "record_ack"),
    ]
    slow_replies(late_bill_ack, {"A": lossy}, late, 600.0)  # maybe the link's loss
    assert late.spells == {}


def test_one_stall_is_one_line_and_the_rigs_own_lateness_comes_first() -> None:
    """A rig that stalled reads the backend's bytes late: what looked like a slow or
    silent backend then is said once, as the rig's lateness. A login reply late at the
    end of a backend's silence is that silence, said once."""
    late = Lateness()
    late.note("A", 300.0, 340.0)  # the rig's own stall
    late.backend_silent("A", 290.0, 345.0)  # the pile gave the backend up meanwhile
    late.backend_silent("A", 900.0, 950.0, "record_ack")  # elsewhere: the backend's
    late.backend_silent("B", 597.0, 693.0)  # another pile: its own silence ...
    late.backend_silent("B", 678.0, 693.0, "login_reply")  # ... whose tail this is
    late.backend_silent("B", 1000.0, 1040.0, "record_ack")  # a slow reply of its own
    late.settle()
    assert [(s.start, s.backend) for s in late.spells["A"]] == [(300.0, False), (900.0, True)]
    assert [(s.start, s.reply) for s in late.spells["B"]] == [
        (597.0, ""),
        (1000.0, "record_ack"),
    ]
