"""The rig's own lateness (:mod:`simrig.sim.lateness`): where the driver fired timers
late, sessions it would blame the backend for are "not judged", never coded."""

from __future__ import annotations

from datetime import datetime, timedelta

from simrig.oracle.judge import SessionVerdict
from simrig.oracle.views import TruthRecord
from simrig.sim.lateness import EFFECT_S, RIG_LATE_S, Lateness, unjudge_where_late
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
