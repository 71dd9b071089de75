"""Sans-IO tests of the platform core: one per frame and per rule (issue 3)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from simrig.domain import money_from_yuan
from simrig.heartbeat_plan import HeartbeatPlan
from simrig.platform import (
    DEMO_ACCOUNT,
    DEMO_APP_ACCOUNT,
    Account,
    Card,
    PlatformError,
    PlatformRules,
    SessionState,
)
from simrig.platform.checks import CheckLimits
from simrig.protocol.ykc import (
    AckResult,
    AuthFailure,
    CardAuthReply,
    Confirm,
    GunStatus,
    HeartbeatReply,
    LoginReply,
    LoginResult,
    ModelCheck,
    ModelReply,
    ModelRequest,
    ModelVerify,
    ModelVerifyReply,
    Reboot,
    RebootReply,
    RecordAck,
    RemoteStart,
    RemoteStartFailure,
    RemoteStop,
    TimeSync,
    WorkParams,
    WorkParamsReply,
    WorkState,
    encode_frame,
)

from .helpers import CARD, PILE, PlatformRig, ScriptedPile


def test_check_limits_come_from_the_rules():
    assert PlatformRig().core.limits == CheckLimits()
    rules = PlatformRules(max_clock_skew_s=60.0, energy_tolerance_pct=5.0, duration_tolerance_s=1)
    assert PlatformRig(rules).core.limits == CheckLimits(
        max_clock_skew_s=60.0, energy_tolerance_pct=5.0, duration_tolerance_s=1
    )


def test_unknown_pile_is_refused_and_closed():
    rig = PlatformRig(pile_no="99999999999999")
    (reply,) = rig.send(rig.pile.login(), 0.0)
    assert isinstance(reply, LoginReply) and reply.result == LoginResult.FAILED
    assert rig.core.should_close(rig.cid)


def test_login_replies_echo_seq_and_sync_time():
    rig = PlatformRig()
    rig.core.receive_data(rig.cid, rig.pile.login(), 5.0)
    out = rig.core.data_to_send(rig.cid)
    reply, sync = rig.pile.decode(out)
    assert isinstance(reply, LoginReply) and reply.result == LoginResult.OK
    assert out[2:4] == b"\x00\x01"  # echoes the login's seq
    assert isinstance(sync, TimeSync) and sync.time == rig.wall(5.0)
    assert not rig.core.should_close(rig.cid)
    assert rig.repo.get_pile(PILE).online


def test_frames_before_login_are_ignored():
    rig = PlatformRig()
    assert rig.send(rig.pile.heartbeat(), 0.0) == []


def test_heartbeat_reply():
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    (reply,) = rig.send(rig.pile.heartbeat(gun=2), 10.0)
    assert isinstance(reply, HeartbeatReply) and reply.gun == 2


def test_model_verify_and_request():
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    (first,) = rig.send(rig.pile.frame(ModelVerify(pile_no=PILE, model_no="0000")), 1.0)
    assert isinstance(first, ModelVerifyReply) and first.result == ModelCheck.DIFFERS
    (model,) = rig.send(rig.pile.frame(ModelRequest(pile_no=PILE)), 2.0)
    assert isinstance(model, ModelReply) and model.model_no == "0100"
    assert len(model.periods) == 48 and model.flat_rate == pytest.approx(0.7)
    (again,) = rig.send(rig.pile.frame(ModelVerify(pile_no=PILE, model_no="0100")), 3.0)
    assert again.result == ModelCheck.MATCH


def _full_card_session(rig: PlatformRig) -> str:
    serial = rig.card_session(now=10.0)
    rig.send(rig.pile.realtime(serial, energy=0.0), 40.0)
    rig.send(rig.pile.realtime(serial, energy=5.0, amount=7.5), 640.0)
    rig.send(rig.pile.realtime(serial, status=GunStatus.IDLE, energy=10.0, amount=15.0), 1240.0)
    return serial


def test_card_session_end_to_end_sans_io():
    rig = PlatformRig()
    serial = _full_card_session(rig)
    session = rig.repo.get_session(serial)
    assert session.state is SessionState.FINISHED and session.source == "card"
    assert session.started_at == rig.wall(40.0) and session.charge_end_at == rig.wall(1240.0)
    assert len(rig.repo.list_realtime(serial)) == 3
    (ack,) = rig.send(rig.pile.bill(serial, rig.wall(40), rig.wall(1240), 10.0), 1250.0)
    assert isinstance(ack, RecordAck) and ack.result == AckResult.OK
    (bill,) = rig.repo.list_bills()
    assert bill.total_amount == money_from_yuan(15) and bill.charged_total == money_from_yuan(15)
    assert bill.received_at.microsecond == 0 and bill.raw_hex.startswith("68a2")
    assert rig.repo.get_account(DEMO_ACCOUNT).balance == money_from_yuan(85)
    kinds = [n.kind for n in rig.repo.list_notifications()]
    assert kinds == ["charge_started", "charge_finished", "occupancy_notice", "balance_change"]
    assert rig.repo.get_session(serial).bill_serial == serial
    assert rig.repo.list_anomalies() == []


def test_duplicate_bill_acked_again_and_charged_once():
    rig = PlatformRig()
    serial = _full_card_session(rig)
    frame = rig.pile.bill(serial, rig.wall(40), rig.wall(1240), 10.0)
    for t in (1250.0, 1280.0, 1310.0):
        (ack,) = rig.send(frame, t)
        assert ack.result == AckResult.OK
    (bill,) = rig.repo.list_bills()
    assert bill.duplicates == 2
    assert rig.repo.get_account(DEMO_ACCOUNT).balance == money_from_yuan(85)


def test_unknown_serial_is_illegal_and_kept():
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    serial = "1" * 32
    (ack,) = rig.send(rig.pile.bill(serial, rig.wall(0), rig.wall(60), 1.0), 100.0)
    assert ack.result == AckResult.ILLEGAL
    (bill,) = rig.repo.list_bills()
    assert bill.illegal and bill.serial == serial and bill.charged_total == 0
    (again,) = rig.send(rig.pile.bill(serial, rig.wall(0), rig.wall(60), 1.0), 130.0)
    assert again.result == AckResult.ILLEGAL


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("unknown_card", AuthFailure.ACCOUNT_NOT_FOUND),
        ("frozen", AuthFailure.ACCOUNT_FROZEN),
        ("low_balance", AuthFailure.INSUFFICIENT_BALANCE),
        ("disabled", AuthFailure.PILE_DISABLED),
    ],
)
def test_card_auth_failures(setup, expected):
    rig = PlatformRig()
    card = CARD
    if setup == "unknown_card":
        card = "0000000012345678"
    elif setup == "frozen":
        rig.repo.put_card(Card(CARD, "0000001000000573", DEMO_ACCOUNT, frozen=True))
    elif setup == "low_balance":  # zshy_case#17: below 1 yuan cannot start
        acct = rig.repo.get_account(DEMO_ACCOUNT)
        rig.repo.put_account(
            Account(DEMO_ACCOUNT, balance=money_from_yuan("0.99"), logical_card=acct.logical_card)
        )
    elif setup == "disabled":
        rig.send(rig.pile.login(), 0.0)
        rig.core.send_command(PILE, WorkParams(pile_no=PILE, enable=WorkState.DISABLED), 1.0)
        rig.core.data_to_send(rig.cid)
        rig.send(rig.pile.frame(WorkParamsReply(pile_no=PILE, result=Confirm.OK)), 2.0)
        assert not rig.repo.get_pile(PILE).enabled
    rig.send(rig.pile.login(), 3.0)
    (reply,) = rig.send(rig.pile.card_start(card=card), 5.0)
    assert isinstance(reply, CardAuthReply)
    assert reply.result == Confirm.FAILED and reply.failure == expected
    assert rig.repo.list_sessions() == []


def test_min_start_balance_is_a_setting():
    rig = PlatformRig(PlatformRules(min_start_balance=0))
    acct = rig.repo.get_account(DEMO_ACCOUNT)
    rig.repo.put_account(
        Account(DEMO_ACCOUNT, balance=money_from_yuan("0.5"), logical_card=acct.logical_card)
    )
    assert rig.card_session()


def test_new_rules_are_in_force_at_once_in_every_part():
    """``set_rules`` (the HTTP API's PATCH /rules) reaches every part that reads rules."""
    rig = PlatformRig(PlatformRules(min_start_balance=0))
    acct = rig.repo.get_account(DEMO_ACCOUNT)
    rig.repo.put_account(
        Account(DEMO_ACCOUNT, balance=money_from_yuan("0.5"), logical_card=acct.logical_card)
    )
    rig.core.set_rules(
        PlatformRules(min_start_balance=money_from_yuan(1), missed_heartbeats_offline=1)
    )
    rig.send(rig.pile.login(), 0.0)
    (refused,) = rig.send(rig.pile.card_start(), 10.0)
    assert refused.result != 1  # the higher minimum balance (orders) is in force
    rig.pump(25.0)  # one heartbeat interval missed since t=10: offline under the new liveness rule
    assert not rig.core.is_online(PILE)
    assert rig.core.rules.missed_heartbeats_offline == 1


def test_unsettled_records_block_card_and_gun():
    rig = PlatformRig()
    rig.card_session(gun=1)
    (again,) = rig.send(rig.pile.card_start(gun=2), 20.0)
    assert again.failure == AuthFailure.CARD_UNSETTLED_RECORD
    rig.repo.put_account(Account("other", balance=money_from_yuan(50)))
    rig.repo.put_card(Card("00000000AAAAAAAA", "0000000000000002", "other"))
    (busy,) = rig.send(rig.pile.card_start(gun=1, card="00000000AAAAAAAA"), 21.0)
    assert busy.failure == AuthFailure.PILE_UNSETTLED_RECORD


def test_stuck_unbilled_record_blocks_when_configured():
    """igo_case#21: a closed session without bill keeps blocking the user."""
    rig = PlatformRig(PlatformRules(unsettled_includes_unbilled=True))
    serial = _full_card_session(rig)
    assert rig.repo.get_session(serial).state is SessionState.FINISHED
    (reply,) = rig.send(rig.pile.card_start(gun=2), 1300.0)
    assert reply.failure == AuthFailure.CARD_UNSETTLED_RECORD


def test_app_start_sends_0x34_and_field_timeout_cancels_after_240s():
    rig = PlatformRig()
    serial = rig.app_session(now=10.0)
    (start,) = rig.pile.decode(rig.core.data_to_send(rig.cid))
    assert isinstance(start, RemoteStart) and start.serial == serial and start.balance == 100.0
    rig.send(rig.pile.start_reply(serial), 12.0)
    rig.send(rig.pile.heartbeat(), 100.0)
    rig.send(rig.pile.heartbeat(), 120.0)
    rig.send(rig.pile.heartbeat(), 240.0)
    assert rig.core.speed.idle_until(100.0) == pytest.approx(250.0)
    rig.pump(249.0)
    assert rig.repo.get_session(serial).state is SessionState.STARTING
    rig.pump(250.0)
    session = rig.repo.get_session(serial)
    assert session.state is SessionState.CANCELLED and session.close_reason == "start_timeout"
    assert len(rig.notes("auto_cancel")) == 1


def test_spec_start_timeout_90s_and_stop_on_timeout():
    rig = PlatformRig(PlatformRules(start_confirm_timeout_s=90, stop_on_start_timeout=True))
    serial = rig.app_session(now=10.0)
    rig.core.data_to_send(rig.cid)
    rig.send(rig.pile.heartbeat(), 80.0)
    out = rig.pump(100.0)
    assert any(isinstance(m, RemoteStop) for m in out)
    assert rig.repo.get_session(serial).state is SessionState.CANCELLED


def test_start_failure_reply_cancels_but_not_plugged_waits():
    rig = PlatformRig()
    serial = rig.app_session(now=10.0)
    rig.send(rig.pile.start_reply(serial, failure=RemoteStartFailure.GUN_NOT_PLUGGED), 11.0)
    assert rig.repo.get_session(serial).state is SessionState.STARTING
    rig.send(rig.pile.start_reply(serial, failure=RemoteStartFailure.EQUIPMENT_FAULT), 12.0)
    assert rig.repo.get_session(serial).state is SessionState.CANCELLED
    assert len(rig.notes("start_failed")) == 1


def test_app_start_refusals():
    rig = PlatformRig()
    with pytest.raises(PlatformError, match="offline"):
        rig.core.app_start(PILE, 1, DEMO_APP_ACCOUNT, 0.0)
    rig.send(rig.pile.login(), 0.0)
    with pytest.raises(PlatformError, match="unknown account"):
        rig.core.app_start(PILE, 1, "nobody", 1.0)
    with pytest.raises(PlatformError, match="no gun 3"):
        rig.core.app_start(PILE, 3, DEMO_APP_ACCOUNT, 1.0)
    rig.core.app_start(PILE, 1, DEMO_APP_ACCOUNT, 1.0)
    with pytest.raises(PlatformError, match="unsettled"):
        rig.core.app_start(PILE, 1, DEMO_ACCOUNT, 1.0)


def test_app_stop_sends_0x36_every_time():
    """zshy_case#23: the lead's scenarios may stop twice."""
    rig = PlatformRig()
    serial = rig.app_session(now=1.0)
    rig.send(rig.pile.realtime(serial), 30.0)
    rig.core.data_to_send(rig.cid)
    rig.core.app_stop(PILE, 1, 60.0)
    rig.core.app_stop(PILE, 1, 70.0)
    stops = [
        m for m in rig.pile.decode(rig.core.data_to_send(rig.cid)) if isinstance(m, RemoteStop)
    ]
    assert len(stops) == 2
    session = rig.repo.get_session(serial)
    assert session.state is SessionState.STOPPING and session.stop_count == 2
    rig.send(rig.pile.realtime(serial, status=GunStatus.IDLE), 80.0)
    assert rig.repo.get_session(serial).close_reason == "app"


def test_offline_after_three_missed_heartbeats_and_elision():
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    assert rig.core.get_timer() == pytest.approx(30.0)
    rig.core.speed.note_elided_heartbeats(PILE, 5, 50.0)
    rig.pump(30.0)
    assert rig.core.is_online(PILE)
    assert rig.core.get_timer() == pytest.approx(80.0)
    rig.pump(80.0)
    assert not rig.core.is_online(PILE)
    assert rig.core.should_close(rig.cid)
    assert not rig.repo.get_pile(PILE).online


def test_liveness_reads_heartbeats_on_paper_from_the_plan():
    """Heartbeats of a plan keep the pile online; when the plan ends, the pile goes
    offline three periods after the last one arrived (timers run before arrivals)."""
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    rig.core.speed.assume_heartbeats(PILE, HeartbeatPlan(10.0, 10.0, 0, math.inf, 0.5), 0.0)
    for t in (30.0, 500.0, 5000.0):
        rig.pump(t)
        assert rig.core.is_online(PILE)
    assert rig.core.get_timer() == 86_400.0  # the daily time sync; no liveness checks
    rig.core.speed.assume_heartbeats(PILE, HeartbeatPlan(10.0, 10.0, 0, 6000.0, 0.5), 5500.0)
    rig.pump(6000.0)
    assert rig.core.is_online(PILE)
    assert rig.core.get_timer() == pytest.approx(5990.5 + 30.0)
    rig.pump(6020.5)
    assert not rig.core.is_online(PILE)
    assert rig.repo.get_pile(PILE).last_seen == rig.wall(5990.5)


def test_a_retired_plan_keeps_only_the_arrivals_before_the_close():
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    rig.core.speed.assume_heartbeats(PILE, HeartbeatPlan(10.0, 10.0, 0, math.inf, 0.5), 0.0)
    rig.core.speed.retire_heartbeat_plan(PILE, 100.5)  # heartbeat 9 would arrive at 100.5
    assert rig.core.stats["heartbeats_elided"] == 9
    rig.pump(120.0)
    assert rig.core.is_online(PILE)
    rig.pump(120.5)
    assert not rig.core.is_online(PILE)


def test_balance_stop_with_margin():
    """zpd_case#12: stop from realtime amount; margin is a setting."""
    rig = PlatformRig(PlatformRules(balance_stop_margin=money_from_yuan(1)))
    serial = rig.card_session()
    rig.send(rig.pile.realtime(serial, energy=50, amount=98.0), 100.0)
    assert rig.notes("balance_stop") == []
    out = rig.send(rig.pile.realtime(serial, energy=51, amount=99.0), 115.0)
    assert any(isinstance(m, RemoteStop) for m in out)
    assert len(rig.notes("balance_stop")) == 1
    out = rig.send(rig.pile.realtime(serial, energy=52, amount=99.5), 130.0)
    assert not any(isinstance(m, RemoteStop) for m in out)


def test_energy_target_stop():
    rig = PlatformRig()
    serial = rig.app_session(now=1.0, energy_target=5.0)
    rig.send(rig.pile.realtime(serial, energy=4.0), 30.0)
    rig.core.data_to_send(rig.cid)
    out = rig.send(rig.pile.realtime(serial, energy=5.0), 45.0)
    assert any(isinstance(m, RemoteStop) for m in out)
    assert rig.notes("target_stop")[0].text == "energy target reached"


def test_fault_during_charging_reads_as_end_field_behaviour():
    """igo_case#30: one status-8 heartbeat → false charge-finished + occupancy notice."""
    rig = PlatformRig()
    serial = rig.card_session()
    rig.send(rig.pile.realtime(serial, energy=1.0), 30.0)
    rig.send(rig.pile.realtime(serial, status=GunStatus.FAULT, energy=2.0), 45.0)
    rig.send(rig.pile.realtime(serial, energy=3.0), 60.0)
    session = rig.repo.get_session(serial)
    assert session.state is SessionState.FINISHED and session.close_reason == "fault"
    assert session.charging_after_finish
    assert len(rig.notes("charge_finished")) == 1 and len(rig.notes("occupancy_notice")) == 1


def test_fault_during_charging_wait_for_bill():
    rig = PlatformRig(PlatformRules(fault_reading="wait_for_bill"))
    serial = rig.card_session()
    rig.send(rig.pile.realtime(serial, energy=1.0), 30.0)
    rig.send(rig.pile.realtime(serial, status=GunStatus.FAULT, energy=2.0), 45.0)
    assert rig.repo.get_session(serial).state is SessionState.CHARGING
    assert rig.notes("charge_finished") == []


def test_offline_during_charging_field_reads_end_and_bill_lost_offline():
    rig = PlatformRig()
    serial = rig.card_session()
    rig.send(rig.pile.realtime(serial, energy=1.0), 30.0)
    rig.pump(40.0 + 1)  # still alive (last frame at 30 s)
    rig.pump(60.0)
    session = rig.repo.get_session(serial)
    assert session.state is SessionState.FINISHED and session.close_reason == "offline"
    assert session.offline_at_end
    rig.pump(60.0 + 900.0)
    (anomaly,) = rig.repo.list_anomalies()
    assert anomaly.code == 2 and anomaly.session_key == serial


def test_lost_bill_sweep_code_1():
    rig = PlatformRig()
    serial = _full_card_session(rig)
    rig.core.speed.note_elided_heartbeats(PILE, 300, 2200.0)
    assert rig.core.speed.idle_until(1300.0) == pytest.approx(1240.0 + 900.0)
    rig.pump(2140.0)
    (anomaly,) = rig.repo.list_anomalies()
    assert anomaly.code == 1 and anomaly.session_key == serial
    rig.pump(2141.0)
    assert len(rig.repo.list_anomalies()) == 1


def test_occupancy_fee_from_bill_transaction_time_field():
    """igo_case#29 / zpd_case#4: service end = the bill's time → occupancy fee."""
    rig = PlatformRig()
    serial = _full_card_session(rig)
    trade = rig.wall(1240) + timedelta(minutes=45)  # 30 min beyond the free 15
    rig.send(rig.pile.bill(serial, rig.wall(40), rig.wall(1240), 10.0, trade=trade), 4000.0)
    (bill,) = rig.repo.list_bills()
    assert bill.occupancy_fee == money_from_yuan(24)  # 30 min × 0.8
    assert bill.charged_total == money_from_yuan(15 + 24)
    assert rig.notes("occupancy_fee")[0].amount == money_from_yuan(24)


def test_occupancy_fee_from_own_unplug_observation():
    rig = PlatformRig(PlatformRules(occupancy_service_end="unplug"))
    serial = _full_card_session(rig)
    rig.send(rig.pile.realtime("0" * 32, status=GunStatus.IDLE, plugged=False), 1240.0 + 1200)
    assert rig.repo.get_session(serial).unplugged_at == rig.wall(2440)
    trade = rig.wall(1240) + timedelta(hours=10)
    rig.send(rig.pile.bill(serial, rig.wall(40), rig.wall(1240), 10.0, trade=trade), 40000.0)
    (bill,) = rig.repo.list_bills()
    assert bill.occupancy_fee == money_from_yuan(4)  # 20 min - 15 free = 5 min × 0.8
    assert 6 in bill.anomaly_codes and 10 in bill.anomaly_codes


def test_bill_vs_realtime_anomalies():
    rig = PlatformRig()
    serial = rig.card_session()
    rig.send(rig.pile.realtime(serial, energy=0.0), 30.0)
    rig.send(rig.pile.realtime(serial, energy=20.0), 1830.0)
    rig.send(rig.pile.realtime(serial, status=GunStatus.IDLE, energy=20.0), 1845.0)
    # bill says 10 kWh over 10 minutes while the platform saw 20 kWh over 30 minutes
    rig.send(rig.pile.bill(serial, rig.wall(30), rig.wall(630), 10.0), 1850.0)
    (bill,) = rig.repo.list_bills()
    assert set(bill.anomaly_codes) == {9, 11}
    assert {a.code for a in rig.repo.list_anomalies()} == {9, 11}


def test_overlapping_bills_flag_7():
    rig = PlatformRig(PlatformRules(min_start_balance=0))
    serial = _full_card_session(rig)
    rig.send(rig.pile.bill(serial, rig.wall(40), rig.wall(1240), 10.0), 1250.0)
    (reply,) = rig.send(rig.pile.card_start(gun=1), 1300.0)
    second = reply.serial
    rig.send(rig.pile.realtime(second, energy=0.0), 1310.0)
    rig.send(rig.pile.realtime(second, status=GunStatus.IDLE, energy=1.0), 1400.0)
    rig.send(rig.pile.bill(second, rig.wall(900), rig.wall(1400), 1.0), 1410.0)
    bill = rig.repo.get_bill(second)
    assert 7 in bill.anomaly_codes and 3 in bill.anomaly_codes


def test_malformed_frames_until_budget():
    rig = PlatformRig(PlatformRules(malformed_frame_budget=3))
    rig.send(rig.pile.login(), 0.0)
    bad = bytearray(rig.pile.heartbeat())
    bad[-1] ^= 0xFF
    for i in range(3):
        rig.send(bytes(bad), 1.0 + i)
        assert not rig.core.should_close(rig.cid)
        (reply,) = rig.send(rig.pile.heartbeat(), 1.5 + i)  # the connection still works
        assert isinstance(reply, HeartbeatReply)
    rig.send(bytes(bad), 5.0)
    assert rig.core.should_close(rig.cid)


def test_reboot_command_and_reply():
    rig = PlatformRig()
    with pytest.raises(PlatformError):
        rig.core.send_command(PILE, Reboot(pile_no=PILE), 0.0)
    rig.send(rig.pile.login(), 0.0)
    rig.core.send_command(PILE, Reboot(pile_no=PILE), 1.0)
    (cmd,) = rig.pile.decode(rig.core.data_to_send(rig.cid))
    assert isinstance(cmd, Reboot)
    rig.send(rig.pile.frame(RebootReply(pile_no=PILE, result=Confirm.OK)), 2.0)
    kinds = [e.kind for e in rig.core.events()]
    assert "frame_received" in kinds and "frame_sent" in kinds


def test_relogin_on_new_connection_replaces_old():
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    rig.core.connection_made(2, 5.0)
    pile2 = ScriptedPile(PILE)
    rig.core.receive_data(2, pile2.login(), 5.0)
    assert rig.core.should_close(1)
    rig.core.connection_lost(1, 6.0)
    assert rig.core.is_online(PILE)


def test_idle_without_serial_ends_session_gdyc_case25():
    rig = PlatformRig()
    serial = rig.card_session()
    rig.send(rig.pile.realtime(serial, energy=1.0), 30.0)
    rig.send(rig.pile.realtime("0" * 32, status=GunStatus.IDLE, plugged=True), 60.0)
    session = rig.repo.get_session(serial)
    assert session.state is SessionState.FINISHED and session.close_reason == "idle_without_serial"


def test_restart_restores_timers():
    rig = PlatformRig()
    serial = rig.app_session(now=10.0)
    from simrig.platform import PlatformCore

    core2 = PlatformCore(rig.repo, epoch=rig.core.epoch)
    assert core2.speed.idle_until(0.0) == pytest.approx(250.0)
    core2.handle_timer(250.0)
    assert rig.repo.get_session(serial).state is SessionState.CANCELLED
    assert not rig.repo.get_pile(PILE).online


def test_encode_of_raw_command_uses_own_seq():
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    rig.core.send_command(PILE, Reboot(pile_no=PILE), 1.0)
    out = rig.core.data_to_send(rig.cid)
    assert out == encode_frame(Reboot(pile_no=PILE), 1)  # 0 was the time sync
