"""Issue 15 item 7, sans-IO: parallel charging (0xA1-0xA4), VIN start, the 0x42 balance
push, the two-idle-0x13 rule, and BMS telemetry kept per order."""

from __future__ import annotations

import dataclasses

from simrig.platform import DEMO_APP_ACCOUNT, PlatformRules, SessionState
from simrig.protocol.ykc import (
    AuthFailure,
    BalanceUpdate,
    BalanceUpdateReply,
    BmsInfo,
    CardAuthReply,
    CardStart,
    Confirm,
    DemandOutput,
    GunStatus,
    ParallelAuthReply,
    ParallelCardStart,
    ParallelRemoteStart,
    ParallelRemoteStartReply,
    StartMode,
)

from .helpers import CARD, PlatformRig

VIN = "LSVAU2180N2183294"
PARALLEL_ID = "260101083000"


def test_parallel_card_start_authorises_each_gun_and_echoes_the_parallel_id() -> None:
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    replies = []
    for gun, aux in ((1, 0), (2, 1)):
        start = ParallelCardStart(
            pile_no=rig.pile.pile_no,
            gun=gun,
            start_mode=StartMode.CARD,
            card=CARD,
            aux=aux,
            parallel_id=PARALLEL_ID,
        )
        [reply] = rig.send(rig.pile.frame(start), 1.0 + gun)
        replies.append(reply)
    first, second = replies
    assert isinstance(first, ParallelAuthReply) and first.parallel_id == PARALLEL_ID
    assert first.result == Confirm.OK
    # one account, one order at a time: the aux gun is refused (0x04), as for 0x31
    assert isinstance(second, ParallelAuthReply) and second.result == Confirm.FAILED
    assert second.failure == AuthFailure.CARD_UNSETTLED_RECORD
    [session] = rig.repo.list_sessions()
    assert session.parallel_id == PARALLEL_ID and session.serial == first.serial


def test_parallel_app_start_sends_0xa4_and_0xa3_confirms_it() -> None:
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    serial = rig.core.app_start(rig.pile.pile_no, 1, DEMO_APP_ACCOUNT, 5.0, parallel_id=PARALLEL_ID)
    [start] = rig.pile.decode(rig.core.data_to_send(rig.cid))
    assert isinstance(start, ParallelRemoteStart) and start.parallel_id == PARALLEL_ID
    reply = ParallelRemoteStartReply(
        serial=serial, pile_no=rig.pile.pile_no, gun=1, result=Confirm.OK, parallel_id=PARALLEL_ID
    )
    rig.send(rig.pile.frame(reply), 6.0)
    session = rig.repo.get_session(serial)
    assert session is not None and session.start_confirmed


def test_vin_start_is_the_account_that_registered_the_vin() -> None:
    rig = PlatformRig()
    account = rig.repo.get_account(DEMO_APP_ACCOUNT)
    rig.repo.put_account(dataclasses.replace(account, vins=(VIN,)))
    rig.send(rig.pile.login(), 0.0)
    start = CardStart(pile_no=rig.pile.pile_no, gun=1, start_mode=StartMode.VIN, vin=VIN)
    [reply] = rig.send(rig.pile.frame(start), 1.0)
    assert isinstance(reply, CardAuthReply) and reply.result == Confirm.OK
    [session] = rig.repo.list_sessions()
    assert (session.source, session.vin, session.account_id) == ("vin", VIN, DEMO_APP_ACCOUNT)
    stranger = dataclasses.replace(start, gun=2, vin="LSVAU2180N2183299")
    [refused] = rig.send(rig.pile.frame(stranger), 2.0)
    assert refused.failure == AuthFailure.VIN_NOT_REGISTERED


def test_a_top_up_is_pushed_to_the_pile_running_the_order() -> None:
    off = PlatformRig()
    off_serial = off.card_session()
    assert off.core.push_balance(off.repo.get_session(off_serial).account_id, 20.0) == 0
    rig = PlatformRig(PlatformRules(balance_push=True))
    serial = rig.card_session()
    account = rig.repo.get_session(serial).account_id
    topped = dataclasses.replace(rig.repo.get_account(account), balance=2_345_600)
    rig.repo.put_account(topped)
    assert rig.core.push_balance(account, 20.0) == 1
    [push] = rig.pile.decode(rig.core.data_to_send(rig.cid))
    assert isinstance(push, BalanceUpdate)
    assert (push.gun, push.physical_card, push.balance) == (1, CARD, 234.56)
    reply = BalanceUpdateReply(pile_no=rig.pile.pile_no, physical_card=CARD, result=0)
    rig.send(rig.pile.frame(reply), 21.0)
    kinds = [(e.kind, e.data.get("result")) for e in rig.core.events()]
    assert ("balance_update_reply", "ok") in kinds
    assert rig.core.push_balance("no-such-account", 22.0) == 0


def test_two_idle_realtime_frames_make_a_starting_order_abnormal_when_set() -> None:
    for limit, expected in ((0, SessionState.STARTING), (2, SessionState.CANCELLED)):
        rig = PlatformRig(PlatformRules(idle_realtime_abnormal=limit))
        serial = rig.app_session()
        for t in (20.0, 35.0):
            rig.send(rig.pile.realtime(serial, status=GunStatus.IDLE, plugged=False), t)
        session = rig.repo.get_session(serial)
        assert session.state is expected, limit
        if limit:
            assert session.close_reason == "idle_abnormal"


def test_bms_frames_are_kept_per_order() -> None:
    rig = PlatformRig()
    serial = rig.card_session()
    pile = rig.pile.pile_no
    demand = DemandOutput(serial=serial, pile_no=pile, gun=1, demand_voltage=400.0, soc=55)
    info = BmsInfo(serial=serial, pile_no=pile, gun=1, max_temperature=31.0)
    idle = BmsInfo(pile_no=pile, gun=1)  # no order: not kept
    for t, message in ((20.0, demand), (21.0, info), (22.0, idle)):
        assert rig.send(rig.pile.frame(message), t) == []
    kept = rig.repo.list_bms(serial)
    assert [s.kind for s in kept] == ["demand_output", "bms_info"]
    assert kept[0].values["soc"] == 55 and kept[0].values["demand_voltage"] == 400.0
    assert kept[1].values["max_temperature"] == 31.0
