"""The old line's mechanisms (igo_case#17), against the scripted platform (no network):
``late_record_close`` (codes 10 and 9+10: the record is closed and the bill uploaded
late, stamped at upload, its end of charge maybe latched then too) and
``impossible_bill_times`` kind ``clock_step`` (code 3 alone: the whole bill ahead). The
platform's own flags over a fleet are in ``tests/report/test_old_line_calibration.py``."""

from datetime import timedelta

import pytest

from simrig.firmware_models import load_profile
from simrig.protocol.ykc import TransactionRecord
from simrig.stimuli import Unplug

from .peer import PileRig
from .test_primitives import charge, with_primitives

LATE = {"rate": 1.0, "delay_s": [1800, 1800]}


def late_bill(relatch: float) -> tuple[PileRig, float, float, TransactionRecord]:
    rig = PileRig(
        with_primitives("sinexcel-dc@11536", late_record_close={**LATE, "relatch": relatch})
    )
    charge(rig, 900)
    rig.stim(1200, Unplug(1))  # the user leaves long before the bill
    rig.run(900 + 2000)
    [(sent_at, bill)] = rig.peer.timed(TransactionRecord)
    ended = rig.kinds("session_ended")[0].t
    return rig, ended, sent_at, bill


def test_the_bill_comes_late_after_the_unplug_stamped_at_upload():
    rig, ended, sent_at, bill = late_bill(relatch=0.0)
    assert sent_at == pytest.approx(ended + 1800) and sent_at > 1200
    assert bill.trade_time == rig.wall(sent_at) and bill.end_time == rig.wall(ended)
    [event] = rig.quirks("late_record_close")
    assert event.data["case"] == "record closed 1800s after the charge end"
    assert event.data["incident"] == "igo_case#17"


def test_relatched_the_end_of_charge_is_the_closing_time_too():
    rig, ended, sent_at, bill = late_bill(relatch=1.0)
    assert bill.end_time == bill.trade_time == rig.wall(sent_at)
    assert (bill.end_time - rig.wall(ended)).total_seconds() == pytest.approx(1800, abs=1)
    [s] = rig.pile.device_sessions()
    assert s.stop_time == bill.end_time  # the pile's own record says so too
    assert "end of charge latched then" in rig.quirks("late_record_close")[0].data["case"]


def test_bill_timing_decides_first_when_both_are_set():
    both = with_primitives(
        "sinexcel-dc@11536",
        bill_timing={"after_delay": 1.0, "delay_s": [600, 600]},
        late_record_close={**LATE, "relatch": 1.0},
    )
    rig = PileRig(both)
    charge(rig, 900)
    rig.run(1600)
    assert rig.quirks("bill_timing") and not rig.quirks("late_record_close")


def test_the_old_line_ships_it_as_a_preset():
    for version in ("11523", "11536"):
        quirks = load_profile(f"sinexcel-dc@{version}").quirks
        assert 0 < quirks["late_bill_close"]["rate"] < 0.01
        assert quirks["occupancy_spike"]["rate"] == 0.0


def test_clock_step_moves_every_bill_time_ahead_and_keeps_the_durations():
    step = {"rate": 1.0, "skew_s": [900, 900], "kinds": ["clock_step"]}
    rig = PileRig(with_primitives("sinexcel-dc@11536", impossible_bill_times=step))
    charge(rig, 900)
    rig.stim(1200, Unplug(1))
    rig.run(1300)
    [(sent_at, bill)] = rig.peer.timed(TransactionRecord)
    ended = rig.kinds("session_ended")[0].t
    assert bill.trade_time == rig.wall(sent_at) + timedelta(seconds=900)
    assert bill.end_time == rig.wall(ended) + timedelta(seconds=900)
    assert (bill.trade_time - bill.end_time) == rig.wall(sent_at) - rig.wall(ended)
    assert rig.quirks("impossible_bill_times")[0].data["case"] == "clock_step"
