"""Quirk primitives compose behaviours the presets bundle (issue 14 item 1): each test
enables primitives no preset combines, against the scripted platform (no network)."""

from dataclasses import replace
from typing import Any

import pytest

from simrig.firmware_models import FirmwareProfile, load_profile, parse_profile
from simrig.firmware_models.quirks import validate_params
from simrig.protocol.ykc import GunStatus, RealtimeData, TransactionRecord
from simrig.stimuli import CardScan, LocalReboot, Plug, Unplug

from .peer import PileRig, vehicle
from .test_profile_format import DOC

CARD = "00000000AABBCCDD"


def with_primitives(base: str = "generic-dc@1.0", **quirks: dict[str, Any]) -> FirmwareProfile:
    profile = load_profile(base)
    return replace(profile, quirks={n: validate_params(n, p) for n, p in quirks.items()})


def charge(rig: PileRig, stop_at: float) -> None:
    rig.stim(5, Plug(1, vehicle()))
    rig.stim(10, CardScan(1, CARD))
    rig.at(stop_at, lambda: rig.peer.remote_stop(1))


def test_bill_after_delay_on_a_charged_session_stamped_at_upload():
    """A late bill without a start failure (igo_case#29's delay, any session)."""
    profile = with_primitives(bill_timing={"after_delay": 1.0, "delay_s": [3600, 3600]})
    rig = PileRig(profile)
    charge(rig, 900)
    rig.stim(1000, Unplug(1))
    rig.run(900 + 3700)
    [(sent_at, bill)] = rig.peer.timed(TransactionRecord)
    ended = rig.kinds("session_ended")[0].t
    assert sent_at == pytest.approx(ended + 3600)
    assert bill.trade_time == rig.wall(sent_at) and bill.end_time == rig.wall(ended)
    assert rig.quirks("bill_timing")[0].data["case"] == "bill after_delay 3600s"


def test_bill_stamps_trade_time_at_charge_end_and_end_time_at_upload():
    stamps = {"end": "upload", "trade": "charge_end"}
    timing = {"after_delay": 1.0, "delay_s": [600, 600]}
    rig = PileRig(with_primitives(bill_timing=timing, bill_stamps=stamps))
    charge(rig, 900)
    rig.run(1600)
    [(sent_at, bill)] = rig.peer.timed(TransactionRecord)
    ended = rig.kinds("session_ended")[0].t
    assert bill.trade_time == rig.wall(ended) and bill.end_time == rig.wall(sent_at)


def test_bill_clock_drift_shifts_every_bill_time():
    rig = PileRig(with_primitives(bill_stamps={"drift_s_per_day": 86400.0, "max_drift_s": 120}))
    charge(rig, 900)
    rig.run(1000)
    [(sent_at, bill)] = rig.peer.timed(TransactionRecord)
    assert (bill.trade_time - rig.wall(sent_at)).total_seconds() == pytest.approx(120, abs=0.01)


def test_bill_never_and_next_login():
    never = PileRig(with_primitives(bill_timing={"never": 1.0}))
    charge(never, 900)
    never.run(1000)
    assert not never.peer.of(TransactionRecord)
    [s] = never.pile.device_sessions()
    assert (s.bill_state, s.bill_why) == ("dropped", "bill_timing")
    # held until the link logs in again: the outage brings the bill
    login = PileRig(with_primitives(bill_timing={"next_login": 1.0}), outages=[(1200, 1300)])
    charge(login, 900)
    login.run(1190)
    assert not login.peer.of(TransactionRecord)
    login.run(1800)
    [(sent_at, _)] = login.peer.timed(TransactionRecord)
    assert sent_at > 1300


def test_start_failure_silence_without_a_late_bill():
    """No logout on the start failure, but the bill goes out at once (not igo_case#29's
    10 hours): the silence and the late bill are separate primitives."""
    rig = PileRig(with_primitives(start_failure_silence={}))
    rig.stim(5, Plug(1, vehicle(handshake_failure="bhm_timeout")))
    rig.stim(10, CardScan(1, CARD))
    rig.run(200)
    [(t, _)] = rig.peer.timed(TransactionRecord)
    assert t - rig.kinds("session_ended")[0].t <= 30
    assert rig.quirks("start_failure_silence")[0].data["case"] == "no stop notice"


def test_reboot_keeps_the_bill_but_reports_idle():
    profile = with_primitives("generic-ac@1.0", reboot_gun_plugged={"bill": "keep"})
    rig = PileRig(profile)
    charge(rig, 10_000)
    rig.stim(900, LocalReboot())
    rig.stim(2000, Unplug(1))
    rig.run(2400)
    [bill] = rig.peer.of(TransactionRecord)
    assert bill.total_energy > 1
    after = [m for t, m in rig.peer.timed(RealtimeData) if 1000 < t < 2000]
    assert after and all(m.status == GunStatus.IDLE and not m.plugged for m in after)


def test_offline_keeps_charging_but_drops_bills_due_offline():
    profile = with_primitives(offline_behaviour={"bill": "drop"})
    rig = PileRig(profile, outages=[(300, 2000)])
    charge(rig, 1200)  # the app's stop is lost in the outage: the pile charges on
    rig.stim(1500, Unplug(1))  # pulled while offline: its bill falls due offline
    rig.run(2400)
    assert not rig.peer.of(TransactionRecord)
    [s] = rig.pile.device_sessions()
    assert (s.bill_state, s.bill_why) == ("dropped", "offline_behaviour")
    assert s.stop_time is not None and (s.stop_time - rig.wall(0)).total_seconds() >= 1500


def _doc_profiles() -> list[str]:
    blocks = DOC.read_text().split("```toml\n")[2:]
    return [b.split("```")[0] for b in blocks]


def test_the_two_documented_profiles_parse_and_do_what_the_doc_says():
    late, idle = (parse_profile(text, "doc.toml") for text in _doc_profiles())
    assert set(late.quirks) == {"bill_timing", "bill_stamps"}
    rig = PileRig(late, seed=3)
    for k in range(40):  # 40 short sessions: ~4 % late, ~1 % never
        t0 = 10 + k * 1200
        rig.stim(t0, Plug(1, vehicle()))
        rig.stim(t0 + 5, CardScan(1, CARD))
        rig.at(t0 + 300, lambda: rig.peer.remote_stop(1))
        rig.stim(t0 + 400, Unplug(1))
    rig.run(40 * 1200 + 22_000)
    modes = [e.data["case"].split()[1] for e in rig.quirks("bill_timing")]
    sent = len(rig.peer.of(TransactionRecord))
    assert sent == 40 - modes.count("never")
    assert modes and set(modes) <= {"after_delay", "never"}
    assert set(idle.quirks) == {"reboot_gun_plugged", "bill_stamps", "offline_behaviour"}
    assert idle.quirks["reboot_gun_plugged"]["bill"] == "keep"
