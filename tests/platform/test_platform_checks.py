"""The platform's own bill check (simrig.platform.checks), code by code."""

from __future__ import annotations

from datetime import datetime, timedelta

from simrig.domain import Band, default_tariff, money_from_yuan
from simrig.platform.checks import (
    BillFacts,
    CheckLimits,
    PlatformRecord,
    check_bill,
    lost_bill_code,
    occupancy_fee,
    recompute_amount,
)

T = datetime(2019, 10, 29, 8, 0)


def facts(start=T, minutes=60, energy=200_000, trade_minutes=None, **kw):
    end = start + timedelta(minutes=minutes)
    trade = end + timedelta(minutes=trade_minutes or 0)
    base = dict(
        start_time=start,
        end_time=end,
        trade_time=trade,
        band_energies=(0, 0, energy, 0),
        total_energy=energy,
        meter_start=0,
        meter_end=energy,
        received_at=trade + timedelta(seconds=5),
    )
    base.update(kw)
    return BillFacts(**base)


def codes(bill, record=None, overlapping=()):
    return {int(c) for c, _ in check_bill(bill, record, CheckLimits(), overlapping)}


def test_clean_bill():
    assert codes(facts()) == set()


def test_time_anomalies():
    assert codes(facts(minutes=-5)) == {3}
    assert 3 in codes(facts(start_time=None))
    future = facts(received_at=T)
    assert 3 in codes(future)


def test_energy_and_duration_anomalies():
    assert 4 in codes(facts(energy=4_000_000))  # 400 kWh
    assert 4 in codes(facts(minutes=1, energy=500_000))  # 50 kWh in a minute
    assert codes(facts(minutes=0, energy=10)) == {5}
    assert 5 in codes(facts(minutes=25 * 60, energy=100_000))


def test_occupancy_anomaly_6():
    assert codes(facts(trade_minutes=300)) == {6}
    short = facts(minutes=0.5, energy=100, trade_minutes=30, occupancy_fee=10)
    assert 6 in codes(short)


def test_record_mismatches_8_9_10_11():
    rec = PlatformRecord(T, T, T + timedelta(minutes=60), T + timedelta(minutes=70), 200_000)
    assert codes(facts(trade_minutes=10), rec) == set()
    assert codes(facts(energy=300_000, meter_end=300_000, trade_minutes=10), rec) == {8}
    assert codes(facts(energy=100_000, meter_end=100_000, trade_minutes=10), rec) == {11}
    no_unplug = PlatformRecord(T, T, T + timedelta(minutes=60), None, 200_000)
    assert codes(facts(minutes=30, trade_minutes=40), no_unplug) == {9}
    assert codes(facts(trade_minutes=60), rec) == {10}
    assert 11 in codes(facts(meter_end=400_000))


def test_overlap_and_lost():
    assert codes(facts(), overlapping=["x"]) == {7}
    assert int(lost_bill_code(False)) == 1 and int(lost_bill_code(True)) == 2


def test_occupancy_fee_zpd_case4():
    rule = default_tariff().occupancy
    end = datetime(2019, 10, 1, 8, 19, 33)
    fee, minutes = occupancy_fee(rule, end, datetime(2019, 10, 1, 11, 34, 19))
    assert fee == money_from_yuan("143.8133")  # (195.77 - 15) min × 0.8, exact
    assert round(minutes, 2) == 179.77
    assert occupancy_fee(rule, end, end) == (0, 0.0)
    assert occupancy_fee(None, end, end) == (0, 0.0)


def test_recompute_amount():
    lines = recompute_amount(default_tariff(), (0, 0, 100_000, 0))
    assert lines.total_amount == money_from_yuan("15") and lines.line(Band.FLAT).energy == 100_000


def test_old_import_path_reexports_the_platform_checks():
    import simrig.billing.platform_checks as old
    import simrig.platform.checks as new

    assert old.__all__ == new.__all__
    assert all(getattr(old, name) is getattr(new, name) for name in new.__all__)
