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
