"""Protocol §3 behaviour of PileFirmware against the scripted platform."""

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest

from simrig.firmware_models import list_profiles, load_profile
from simrig.protocol.ykc import (
    CardStart,
    ChargeEnd,
    Confirm,
    Execution,
    GunStatus,
    Heartbeat,
    Login,
    ModelRequest,
    ModelVerify,
    RealtimeData,
    RebootReply,
    RemoteStartFailure,
    RemoteStartReply,
    RemoteStopReply,
    StopReason,
    TimeSyncReply,
    TransactionRecord,
    TransactionSource,
    UpgradeReply,
    UpgradeResult,
    WorkParamsReply,
)
from simrig.stimuli import CardScan, Plug, PowerCut, PowerRestore, Unplug

from .peer import EPOCH, PileRig, vehicle

CARD = "00000000AABBCCDD"
SHIPPED = [p.name for p in list_profiles()]


def card_session(rig: PileRig, minutes: float = 20.0, t0: float = 5.0) -> float:
    """Plug, scan, charge ~minutes, app stop; returns the stop time."""
    rig.stim(t0, Plug(1, vehicle()))
    rig.stim(t0 + 15, CardScan(1, CARD))
    stop = t0 + 15 + 130 + minutes * 60
    rig.at(stop, lambda: rig.peer.remote_stop(1))
    return stop


@pytest.mark.parametrize("name", SHIPPED)
def test_full_session_for_every_profile(name):
    rig = PileRig(name, seed=7)
    stop = card_session(rig)
    rig.stim(stop + 20, Unplug(1))  # bill_at_unplug profiles bill at the gun's return
    rig.run(stop + 400)
    p = rig.peer
    assert p.of(Login)[0].firmware_version == rig.profile.firmware_string
    assert p.of(ModelVerify) and p.of(ModelRequest)
    assert p.of(Heartbeat)
    assert len(p.of(CardStart)) == 1
    charging = [m for m in p.of(RealtimeData) if m.status == GunStatus.CHARGING]
    assert len(charging) >= 20 * 60 / 15 - 5
    assert all(m.status in (0, 2, 3) for m in p.of(RealtimeData))  # never "fault" here
    [reply] = p.of(RemoteStopReply)
    assert reply.result == Confirm.OK
    [s] = rig.pile.device_sessions()
    assert s.stop_reason == StopReason.APP_STOP
    truth = rig.plant.truth_sessions()[0]
    assert truth.metered_kwh > 2
    bills = p.of(TransactionRecord)
    if not bills:  # a loss quirk of this profile fired; it must say so
        assert s.bill_state == "dropped" and s.bill_why in rig.profile.quirks
        assert rig.kinds("bill_dropped")
        return
    bill = bills[0]
    assert s.bill_state == "acked"
    assert bill.serial == s.serial
    assert bill.source == TransactionSource.CARD
    assert bill.physical_card == CARD
    assert bill.stop_reason == StopReason.APP_STOP
    if not rig.profile.quirks:
        assert bill.total_energy == pytest.approx(truth.metered_kwh, abs=1e-4)
        assert bill.meter_end - bill.meter_start == pytest.approx(bill.total_energy, abs=1e-4)
        assert bill.end_time > bill.start_time
        bands = bill.sharp_energy + bill.peak_energy + bill.flat_energy + bill.valley_energy
        assert bands == pytest.approx(bill.total_energy, abs=1e-4)
        sent_at = p.timed(TransactionRecord)[0][0]
        assert 0 < sent_at - stop <= 30
        if rig.profile.kind == "DC":
            assert bill.vin == vehicle().vin
            assert p.of(ChargeEnd)


def test_bill_splits_across_tariff_bands():
    """Charging 09:55–10:40 crosses flat → peak (default tariff): both tiers billed."""
    rig = PileRig("generic-dc@1.0")
    rig.stim(6800, Plug(1, vehicle(capacity_kwh=200, max_power_kw=30)))
    rig.stim(6810, CardScan(1, CARD))
    rig.at(6840 + 45 * 60, lambda: rig.peer.remote_stop(1))
    rig.run(6840 + 45 * 60 + 60)
    [bill] = rig.peer.of(TransactionRecord)
    assert bill.flat_energy > 0 and bill.peak_energy > 0
    assert bill.total_amount == pytest.approx(bill.flat_amount + bill.peak_amount, abs=1e-4)


def test_determinism_same_seed_same_bytes():
    def run(seed):
        rig = PileRig("sinexcel-dc@11536", seed=seed, outages=[(400, 700)])
        stop = card_session(rig)
        rig.run(stop + 400)
        return rig.up_bytes()

    assert run(3) == run(3)
    assert run(3) != run(4)  # the reconnect jitter differs


def test_remote_start_plug_within_60s_sends_second_reply():
    rig = PileRig("generic-dc@1.0")
    rig.at(10, lambda: rig.peer.remote_start(1))
    rig.stim(40, Plug(1, vehicle()))
    rig.at(600, lambda: rig.peer.remote_stop(1))
    rig.run(700)
    first, second = rig.peer.timed(RemoteStartReply)
    assert first[1].result == Confirm.FAILED
    assert first[1].failure == RemoteStartFailure.GUN_NOT_PLUGGED
    assert second[0] == 40 and second[1].result == Confirm.OK
    [bill] = rig.peer.of(TransactionRecord)
    assert bill.source == TransactionSource.APP and bill.total_energy > 0


def test_remote_start_plug_too_late_does_not_start():
    rig = PileRig("generic-dc@1.0")
    rig.at(10, lambda: rig.peer.remote_start(1))
    rig.stim(75, Plug(1, vehicle()))
    rig.run(300)
    assert len(rig.peer.of(RemoteStartReply)) == 1
    assert rig.pile.device_sessions() == []


def test_handshake_failure_gives_zero_energy_bill_with_start_failed_reason():
    rig = PileRig("generic-dc@1.0")
    rig.stim(5, Plug(1, vehicle(handshake_failure="brm_timeout")))
    rig.stim(10, CardScan(1, CARD))
    rig.run(200)
    [bill] = rig.peer.of(TransactionRecord)
    assert bill.stop_reason == StopReason.START_BRM_TIMEOUT
    assert bill.total_energy == 0


def test_soc_full_and_unplug_stop_reasons():
    rig = PileRig("generic-dc@1.0")
    rig.stim(5, Plug(1, vehicle(initial_soc=95, capacity_kwh=20)))
    rig.stim(10, CardScan(1, CARD))
    rig.stim(5, Plug(2, vehicle()))
    rig.stim(12, CardScan(2, "1111111111111111"))
    rig.stim(600, Unplug(2))
    rig.run(3000)
    bills = {b.gun: b for b in rig.peer.of(TransactionRecord)}
    assert bills[1].stop_reason == StopReason.SOC_FULL
    assert bills[2].stop_reason == StopReason.ABORT_PILOT_DISCONNECTED


def test_same_card_again_stops_the_session():
    rig = PileRig("generic-ac@1.0")
    rig.stim(5, Plug(1, vehicle()))
    rig.stim(10, CardScan(1, CARD))
    rig.stim(900, CardScan(1, CARD))
    rig.run(1000)
    [bill] = rig.peer.of(TransactionRecord)
    assert bill.stop_reason == StopReason.MANUAL_STOP
    assert 0.9 < bill.total_energy < 7 * 900 / 3600 + 0.01


def test_no_charging_without_a_billing_model():
    rig = PileRig("generic-dc@1.0", tariff=None) if False else PileRig("generic-dc@1.0")
    rig.peer.auto_reply = lambda msg, seq: None  # a platform that answers nothing
    rig.stim(5, Plug(1, vehicle()))
    rig.stim(10, CardScan(1, CARD))
    rig.run(120)
    assert not rig.peer.of(CardStart)
    assert {e.data["why"] for e in rig.kinds("start_refused")} <= {"offline", "no_billing_model"}
    # logged out platform: the login times out and the pile retries with backoff
    assert len(rig.peer.of(Login)) >= 2


def test_model_requests_repeat_until_answered():
    rig = PileRig("generic-dc@1.0")
    original = rig.peer.auto_reply
    rig.peer.auto_reply = lambda m, s: None if isinstance(m, ModelRequest) else original(m, s)
    rig.stim(5, Plug(1, vehicle()))
    rig.stim(30, CardScan(1, CARD))
    rig.run(45)
    assert len(rig.peer.of(ModelRequest)) >= 4
    assert not rig.peer.of(CardStart)
    assert rig.kinds("start_refused")[0].data["why"] == "no_billing_model"


def test_missed_heartbeats_drop_the_link_and_relogin():
    rig = PileRig("generic-dc@1.0", outages=[(100, 160)])
    rig.run(300)
    assert rig.kinds("heartbeat_lost")
    logins = [t for t, _ in rig.peer.timed(Login)]
    assert len(logins) == 2 and logins[1] >= 160


def test_offline_bill_is_kept_and_uploaded_first_after_relogin():
    rig = PileRig("generic-dc@1.0", outages=[(600, 1800)])
    rig.stim(5, Plug(1, vehicle()))
    rig.stim(10, CardScan(1, CARD))
    rig.stim(700, Unplug(1))  # ends the session while the link is (silently) down
    rig.run(2400)
    sent = [m for _, m in rig.peer.received]
    i_login = max(i for i, m in enumerate(sent) if isinstance(m, Login))
    after = [type(m).__name__ for m in sent[i_login + 1 :]]
    assert after[0] == "TransactionRecord"  # stored bills before anything else
    [s] = rig.pile.device_sessions()
    assert s.bill_state == "acked" and s.stop_reason == StopReason.ABORT_PILOT_DISCONNECTED


def test_bill_retry_policy_then_kept_for_next_login():
    rig = PileRig("generic-dc@1.0", ack_records=False)
    stop = card_session(rig, minutes=2)
    rig.run(stop + 200)
    times = [t for t, _ in rig.peer.timed(TransactionRecord)]
    assert len(times) == 4  # first + 3 retries, 30 s apart (§8.7)
    assert [round(b - a) for a, b in itertools.pairwise(times)] == [30, 30, 30]
    assert rig.kinds("bill_kept")
    assert rig.pile.device_sessions()[0].bill_state == "pending"


def test_once_after_5min_retry_policy():
    rig = PileRig("juneng-dc@1.0.0", ack_records=False)
    stop = card_session(rig, minutes=2)
    rig.run(stop + 700)
    times = [t for t, _ in rig.peer.timed(TransactionRecord)]
    assert len(times) == 2 and round(times[1] - times[0]) == 300


def test_time_sync_sets_the_pile_clock():
    rig = PileRig("generic-dc@1.0")
    target = EPOCH + timedelta(hours=1)
    rig.at(50, lambda: rig.peer.time_sync(target))
    rig.run(60)
    [reply] = rig.peer.of(TimeSyncReply)
    assert reply.time == target
    assert rig.pile.clock.wall(60) == target + timedelta(seconds=10)


def test_disabled_pile_refuses_starts():
    rig = PileRig("generic-dc@1.0")
    rig.at(5, lambda: rig.peer.work_params(enabled=False))
    rig.stim(10, Plug(1, vehicle()))
    rig.stim(20, CardScan(1, CARD))
    rig.at(30, lambda: rig.peer.remote_start(1))
    rig.run(60)
    assert rig.peer.of(WorkParamsReply)[0].result == Confirm.OK
    assert not rig.peer.of(CardStart)
    [reply] = rig.peer.of(RemoteStartReply)
    assert reply.failure == RemoteStartFailure.EQUIPMENT_FAULT


def test_remote_reboot_when_idle_waits_for_session_end():
    rig = PileRig("generic-dc@1.0")
    stop = card_session(rig, minutes=5)
    rig.at(300, lambda: rig.peer.reboot(Execution.WHEN_IDLE))
    rig.run(stop + 200)
    assert rig.peer.of(RebootReply)[0].result == Confirm.OK
    [reboot] = rig.kinds("reboot")
    assert reboot.t == stop
    assert len(rig.peer.of(Login)) == 2
    assert rig.pile.device_sessions()[0].bill_state == "acked"


def test_power_cut_ends_session_bill_uploaded_after_boot():
    rig = PileRig("generic-dc@1.0")
    rig.stim(5, Plug(1, vehicle()))
    rig.stim(10, CardScan(1, CARD))
    rig.stim(600, PowerCut())
    rig.stim(900, PowerRestore())
    rig.run(1200)
    [bill] = rig.peer.of(TransactionRecord)
    assert bill.stop_reason == StopReason.ABORT_POWER_LOSS
    assert bill.total_energy == pytest.approx(rig.plant.truth_sessions()[0].metered_kwh, abs=1e-4)


def test_remote_upgrade_mid_scenario_switches_profile():
    rig = PileRig("sinexcel-dc@2090104", seed=2)
    rig.at(50, lambda: rig.peer.upgrade("sinexcel-dc@2090404"))
    stop = card_session(rig, minutes=10, t0=600)
    rig.stim(stop + 60, Unplug(1))
    rig.run(stop + 200)
    assert rig.peer.of(UpgradeReply)[0].status == UpgradeResult.SUCCESS
    [up] = rig.kinds("upgraded")
    assert up.data == {"from": "sinexcel-dc@2090104", "to": "sinexcel-dc@2090404"}
    assert rig.pile.firmware.name == "sinexcel-dc@2090404"
    logins = rig.peer.of(Login)
    assert logins[-1].firmware_version == "2090404"
    assert rig.pile.device_sessions()[0].bill_state == "acked"


def test_juneng_has_no_remote_upgrade():
    rig = PileRig("juneng-dc@1.0.0")
    rig.at(50, lambda: rig.peer.upgrade("juneng-dc@1.0.0"))
    rig.run(400)
    assert rig.peer.of(UpgradeReply)[0].status == UpgradeResult.MODEL_MISMATCH
    assert not rig.kinds("upgraded")


def test_upgrade_to_another_family_is_refused():
    rig = PileRig("sinexcel-dc@2090104")
    rig.at(50, lambda: rig.peer.upgrade("juneng-dc@1.0.0"))
    rig.run(60)
    assert rig.peer.of(UpgradeReply)[0].status == UpgradeResult.MODEL_MISMATCH


def test_idle_elision_matches_full_run():
    full = PileRig("generic-dc@1.0")
    fast = PileRig("generic-dc@1.0", elide=True)
    for rig in (full, fast):
        rig.stim(20_000, Plug(1, vehicle()))
        rig.stim(20_010, CardScan(1, CARD))
        rig.at(21_000, lambda rig=rig: rig.peer.remote_stop(1))
        rig.run(21_200)
    assert fast.elided > 1000
    hb = len(full.peer.of(Heartbeat))
    assert hb == len(fast.peer.of(Heartbeat)) + fast.elided
    assert full.peer.of(TransactionRecord) == fast.peer.of(TransactionRecord)


def test_profile_kind_must_match_plant():
    from simrig.plant import PileSpec, Plant

    plant = Plant()
    plant.add_pile("32010200000009", PileSpec(kind="AC"))
    from simrig.firmware_models import PileFirmware

    with pytest.raises(ValueError, match="plant pile is AC"):
        PileFirmware(
            "32010200000009",
            load_profile("generic-dc@1.0"),
            plant.pile("32010200000009"),
            __import__("random").Random(1),
            EPOCH,
        )


def test_bill_at_unplug_bills_when_the_gun_is_returned():
    """zpd_case#4 (Sinexcel DC): the bill's trade_time (service end) is the unplug time."""
    rig = PileRig("sinexcel-dc@2090404")
    assert rig.profile.timings.bill_at_unplug
    stop = card_session(rig, minutes=10)
    unplug = stop + 3 * 3600
    rig.stim(unplug, Unplug(1))
    rig.run(unplug - 1)
    assert not rig.peer.of(TransactionRecord)  # held while the gun stays plugged
    assert rig.pile.device_sessions()[0].bill_state == "pending"
    rig.run(unplug + 100)
    [(sent_at, bill)] = rig.peer.timed(TransactionRecord)
    assert sent_at == unplug
    assert bill.trade_time == rig.wall(unplug)
    assert bill.end_time == rig.wall(stop) and bill.stop_reason == StopReason.APP_STOP
    assert rig.pile.device_sessions()[0].bill_state == "acked"


def test_bill_at_unplug_pulled_gun_bills_at_once():
    """§13.3 #5: a gun pulled during charging gets its bill immediately."""
    rig = PileRig("sinexcel-dc@2090404")
    rig.stim(5, Plug(1, vehicle()))
    rig.stim(20, CardScan(1, CARD))
    rig.stim(900, Unplug(1))
    rig.run(1000)
    [(sent_at, bill)] = rig.peer.timed(TransactionRecord)
    assert sent_at == 900 and bill.trade_time == bill.end_time == rig.wall(900)
    assert bill.stop_reason == StopReason.ABORT_PILOT_DISCONNECTED


def test_bill_at_unplug_new_order_releases_the_held_bill():
    rig = PileRig("sinexcel-dc@2090404")
    stop = card_session(rig, minutes=5)
    rig.stim(stop + 600, CardScan(1, CARD))  # charges again without unplugging
    rig.run(stop + 700)
    [(sent_at, first)] = rig.peer.timed(TransactionRecord)
    assert sent_at == stop + 600 and first.trade_time == rig.wall(stop + 600)
    assert len(rig.pile.device_sessions()) == 2


def test_pile_balance_stop_only_when_the_profile_says_so():
    def run(profile):
        rig = PileRig(profile)
        rig.stim(5, Plug(1, vehicle()))
        rig.at(10, lambda: rig.peer.remote_start(1, balance=5.0))
        rig.at(3000, lambda: rig.peer.remote_stop(1))
        rig.run(3100)
        return rig

    own = run("generic-dc@1.0")  # pile_balance_stop = true
    [s] = own.pile.device_sessions()
    assert s.stop_reason == StopReason.ABORT_INSUFFICIENT_BALANCE
    [bill] = own.peer.of(TransactionRecord)
    assert 5.0 <= bill.total_amount < 5.5
    base = load_profile("generic-dc@1.0")
    off = run(replace(base, timings=replace(base.timings, pile_balance_stop=False)))
    [s] = off.pile.device_sessions()
    assert s.stop_reason == StopReason.APP_STOP  # charged on; only the platform stops
    assert off.peer.of(TransactionRecord)[0].total_amount > 10
