"""The oracle assigns codes 1–11 from truth, device and platform views (synthetic views)."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from simrig.domain.tariff import default_tariff
from simrig.oracle.judge import Oracle, fair_amount
from simrig.oracle.views import (
    DeviceBill,
    DeviceOrder,
    PlatformBill,
    PlatformNotification,
    PlatformSession,
    StaticPlatformView,
    TruthRecord,
)

T0 = datetime(2019, 10, 29, 13, 0, 0)
PILE = "32010200000001"
SERIAL = "32010200000001011910291300000001"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


TRUTH = TruthRecord(
    PILE,
    1,
    1,
    plug_at=at(0),
    unplug_at=at(30),
    charge_start=at(1),
    charge_end=at(21),
    energy_kwh=20.0,
)
DBILL = DeviceBill(
    SERIAL,
    PILE,
    1,
    start=at(1),
    end=at(21),
    trade_time=at(21.2),
    energy_kwh=20.0,
    amount_yuan=30.0,
    stop_reason=0x45,
    sent_at=at(21.3),
    acked=True,
    frame_hex="68",
)
ORDER = DeviceOrder(
    SERIAL,
    PILE,
    1,
    first_seen=at(0.5),
    first_charging=at(1.2),
    last_charging=at(21),
    last_energy_kwh=20.0,
    realtime_frames=80,
    bills=(DBILL,),
)
PBILL = PlatformBill(
    SERIAL,
    PILE,
    1,
    start=at(1),
    end=at(21),
    service_end=at(30),
    energy_kwh=20.0,
    amount_yuan=30.0,
    occupancy_fee_yuan=0.0,
    total_charged_yuan=30.0,
    received_at=at(21.3),
)
PSESSION = PlatformSession(SERIAL, PILE, 1, "finished", at(0.5), at(1.2), at(21), at(30), 20.0)


def judge(truth=TRUTH, order=ORDER, bill=PBILL, session=PSESSION, notices=()):
    view = StaticPlatformView([bill] if bill else [], [session] if session else [], list(notices))
    [verdict] = Oracle(default_tariff()).judge([truth], [order] if order else [], view)
    return verdict


def test_clean_session_has_no_codes():
    verdict = judge()
    assert verdict.codes == frozenset()
    assert verdict.key == f"{PILE}:1:1"
    assert verdict.false_notifications == ()


def test_bill_lost_is_code_1_and_2_when_offline_at_charge_end():
    assert judge(bill=None).codes == {1}
    assert judge(truth=replace(TRUTH, link_down_at_charge_end=True), bill=None).codes == {2}


@pytest.mark.parametrize(
    "bill",
    [
        pytest.param(
            replace(PBILL, start=at(1) + timedelta(hours=1), end=at(21) + timedelta(hours=1)),
            id="clock_skew",
        ),
        pytest.param(replace(PBILL, end=at(0.5)), id="end_before_start"),
    ],
)
def test_bill_times_off_are_time_anomaly(bill):
    assert 3 in judge(bill=bill).codes


def test_occupancy_spike_is_code_6_and_overcharge():
    late = replace(
        PBILL, service_end=at(30 + 240), occupancy_fee_yuan=180.0, total_charged_yuan=210.0
    )
    verdict = judge(bill=late)
    assert 6 in verdict.codes
    assert verdict.overcharge_yuan == pytest.approx(210.0 - verdict.fair_yuan)
    assert verdict.overcharge_yuan > 150


def test_energy_lost_and_inflated():
    assert judge(bill=replace(PBILL, energy_kwh=15.0)).codes == {11, 8}
    assert 4 in judge(bill=replace(PBILL, energy_kwh=26.0)).codes


@pytest.mark.parametrize(
    ("record", "codes"),
    [
        pytest.param(
            replace(PSESSION, charge_start=at(1.2), charge_end=at(12)), {9}, id="duration"
        ),
        pytest.param(replace(PSESSION, service_end=at(45)), {10}, id="occupancy"),
    ],
)
def test_mismatch_against_platform_record(record, codes):
    assert judge(session=record).codes == codes


def test_overlapping_bills_on_a_gun_are_code_7():
    other_serial = SERIAL[:-1] + "2"
    other = replace(DBILL, serial=other_serial, start=at(15), end=at(25))
    order2 = replace(ORDER, serial=other_serial, first_seen=at(0.6), bills=(other,))
    view = StaticPlatformView(
        [PBILL, replace(PBILL, serial=other_serial, start=at(15), end=at(25))], [PSESSION], []
    )
    verdict = Oracle(default_tariff()).judge([TRUTH], [ORDER, order2], view)[0]
    assert 7 in verdict.codes


def test_false_charge_finished_notice_while_charging():
    notice = PlatformNotification(at(10), "charge_finished", PILE, 1, SERIAL)
    honest = PlatformNotification(at(21.5), "charge_finished", PILE, 1, SERIAL)
    verdict = judge(notices=[notice, honest])
    assert verdict.false_notifications == (notice,)


def test_frames_only_judgement_uses_acks():
    oracle = Oracle(default_tariff())
    [ok] = oracle.judge([TRUTH], [ORDER], None)
    assert ok.codes == frozenset() and ok.charged_yuan is None
    unacked = replace(ORDER, bills=(replace(DBILL, acked=False),))
    [lost] = oracle.judge([TRUTH], [unacked], None)
    assert lost.codes == {1}


def test_fair_amount_counts_energy_and_true_occupancy():
    tariff = default_tariff()
    base = fair_amount(TRUTH, tariff)
    assert base > 0
    late = replace(TRUTH, unplug_at=at(21 + 15 + 10))  # 10 billable minutes at 0.8 yuan
    assert fair_amount(late, tariff) == pytest.approx(base + 8.0)


def test_a_platform_clock_off_the_runs_is_not_blamed_for_durations_on_its_record():
    """A backend whose clock does not follow the run (at 1x under a run at 120x) keeps its
    record in its own time: the rig cannot judge codes 9 and 10 and says so."""
    record = replace(PSESSION, charge_start=at(1.2), charge_end=at(12), service_end=at(45))
    assert judge(session=record).codes == {9, 10}  # its clock on the run's: judged
    unscaled = replace(PBILL, received_at=PBILL.received_at - timedelta(minutes=21))
    verdict = judge(bill=unscaled, session=record)
    assert verdict.codes == set()
    [order] = verdict.orders
    assert any("not judged against the platform's record" in n for n in order.notes)
