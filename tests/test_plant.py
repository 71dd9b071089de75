"""Truth plant: CC-CV physics, meter, BMS stop, handshake, interlocks (simrig.plant)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simrig.plant import (
    Gun,
    HandshakeStatus,
    PileSpec,
    Plant,
    PlantError,
    StopCause,
    VehicleSpec,
    acceptance_kw,
    charge_power_kw,
    seconds_to_soc,
    soc_after,
)

METER0 = 12345.6789


def dc_plant(
    *,
    guns: int = 1,
    max_power_kw: float = 120.0,
    shared: bool = True,
    meter_factor: float = 1.0,
) -> Plant:
    plant = Plant()
    plant.add_pile(
        "0037",
        PileSpec("DC", guns=guns, max_power_kw=max_power_kw, shared_power=shared),
        meter_start_kwh=METER0,
        meter_factor=meter_factor,
    )
    return plant


def start_charging(plant: Plant, gun: int, vehicle: VehicleSpec, t: float) -> float:
    """Plug at t, handshake + close contactor at t; return when current starts."""
    g = plant.gun("0037", gun)
    g.plug(t, vehicle)
    assert g.begin_handshake(t)
    assert g.close_contactor(t)
    deadline = g.handshake_deadline
    assert deadline is not None
    return deadline


# --------------------------------------------------------------------------- physics


def test_acceptance_is_flat_below_knee_and_tapers_to_ten_percent() -> None:
    assert [acceptance_kw(s, 100.0, 80.0) for s in (0.0, 40.0, 80.0)] == [100.0] * 3
    assert acceptance_kw(90.0, 100.0, 80.0) == pytest.approx(55.0)
    assert acceptance_kw(100.0, 100.0, 80.0) == pytest.approx(10.0)
    taper = [acceptance_kw(80.0 + i, 100.0, 80.0) for i in range(21)]
    assert all(a > b for a, b in itertools.pairwise(taper))
    assert charge_power_kw(90.0, 100.0, 80.0, cap_kw=40.0) == 40.0  # cap below acceptance


@pytest.mark.parametrize(("cap", "knee"), [(120.0, 80.0), (40.0, 80.0), (60.0, 50.0), (30, 100)])
def test_seconds_to_soc_inverts_soc_after(cap: float, knee: float) -> None:
    for s0, s1 in [(10.0, 60.0), (10.0, 95.0), (70.0, 100.0), (85.0, 99.0)]:
        t = seconds_to_soc(s0, s1, 90.0, knee, cap, 60.0)
        assert soc_after(s0, t, 90.0, knee, cap, 60.0) == pytest.approx(s1, abs=1e-9)
    assert seconds_to_soc(50.0, 40.0, 90.0, knee, cap, 60.0) == 0.0


def test_power_readings_follow_cc_cv_shape() -> None:
    plant = dc_plant()
    v = VehicleSpec(capacity_kwh=50.0, initial_soc=60.0, max_power_kw=100.0, cv_knee_soc=80.0)
    t0 = start_charging(plant, 1, v, 0.0)
    g = plant.gun("0037", 1)
    samples = []
    t = t0
    while g.charging(t):
        samples.append((g.soc(t), g.power_kw(t)))
        t += 15.0
    cc = [p for s, p in samples if s < 80.0]
    cv = [p for s, p in samples if s > 80.0]
    assert len(cc) > 5 and len(cv) > 5
    assert cc == [100.0] * len(cc)
    assert all(a > b for a, b in itertools.pairwise(cv))
    for s, p in samples:
        assert p == pytest.approx(acceptance_kw(s, 100.0, 80.0))
    assert cv[-1] == pytest.approx(10.0, abs=1.0)  # ~10 % of max near 100 %


def test_readings_voltage_current_temperature_and_bms() -> None:
    plant = dc_plant()
    v = VehicleSpec(
        nominal_voltage_v=400.0, initial_soc=50.0, max_power_kw=60.0, vin="LSVAU2180N2183294"
    )
    g = plant.gun("0037", 1)
    g.plug(0.0, v)
    assert g.voltage_v(0.0) == 0.0 and g.current_a(0.0) == 0.0
    assert g.gun_temp_c(0.0) == 25.0
    assert g.bms(0.0) is None  # no BMS data before the handshake
    t0 = start_charging_existing(plant, 1, 1.0)
    assert g.voltage_v(t0) == pytest.approx(400.0)  # 50 % SOC → nominal
    assert g.current_a(t0) == pytest.approx(60_000.0 / 400.0)
    assert g.gun_temp_c(t0) > 25.0
    bms = g.bms(t0)
    assert bms is not None
    assert (bms.vin, bms.battery_type, bms.soc) == ("LSVAU2180N2183294", 3, 50.0)
    assert bms.demand_current_a == pytest.approx(150.0)
    assert bms.battery_temp_c > 25.0


def _separate_readings(g: Gun, t: float) -> tuple[float, float, float | None]:
    bms = g.bms(t)
    return g.voltage_v(t), g.current_a(t), None if bms is None else bms.battery_temp_c


def test_outputs_equal_the_separate_readings() -> None:
    """``Gun.outputs`` (one advance for a realtime frame) gives bit for bit what
    ``voltage_v``, ``current_a`` and ``bms().battery_temp_c`` give, in every state."""
    plant = dc_plant(guns=2, max_power_kw=90.0)
    ac = Plant()
    ac.add_pile("0100", PileSpec("AC"))
    g1, g2, g_ac = plant.gun("0037", 1), plant.gun("0037", 2), ac.gun("0100", 1)
    v = VehicleSpec(initial_soc=70.0, target_soc=90.0, max_power_kw=80.0, cv_knee_soc=75.0)
    g1.plug(0.0, v)
    g_ac.plug(0.0, v)
    seen = [_separate_readings(g1, 0.0)]
    assert g1.outputs(0.0) == seen[0] == (0.0, 0.0, None)  # plugged, no handshake yet
    start_charging_existing(plant, 1, 1.0)
    assert g_ac.begin_handshake(1.0) and g_ac.close_contactor(1.0)
    for t in (1.0, 30.0, 60.0, 61.5, 900.0, 1800.0, 2400.0, 3000.0, 7200.0):
        if t == 900.0:
            g2.plug(t, v)  # the shared budget splits
            start_charging_existing(plant, 2, t)
        for g in (g1, g2, g_ac):
            expected = _separate_readings(g, t)
            assert g.outputs(t) == expected
            seen.append(expected)
    assert any(temp is not None and amps > 0 for _, amps, temp in seen)
    assert any(temp is not None and amps == 0 for _, amps, temp in seen)  # BMS full


def start_charging_existing(plant: Plant, gun: int, t: float) -> float:
    g = plant.gun("0037", gun)
    assert g.begin_handshake(t) and g.close_contactor(t)
    deadline = g.handshake_deadline
    assert deadline is not None
    return deadline


# --------------------------------------------------------------------------- energy


def _run(steps: list[float], vehicle: VehicleSpec) -> tuple[float, float, float]:
    plant = dc_plant(max_power_kw=60.0)
    t0 = start_charging(plant, 1, vehicle, 0.0)
    g = plant.gun("0037", 1)
    for t in steps:
        g.meter_kwh(t0 + t)
    s = plant.truth_sessions()[0]
    return s.energy_kwh, g.meter_kwh(t0 + steps[-1]), s.soc_end


def test_advance_granularity_does_not_change_results() -> None:
    v = VehicleSpec(capacity_kwh=50.0, initial_soc=75.0, max_power_kw=100.0, cv_knee_soc=80.0)
    one = _run([600.0], v)
    two = _run([300.0, 600.0], v)
    many = _run([i * 7.3 for i in range(1, 82)] + [600.0], v)
    for other in (two, many):
        assert other[0] == pytest.approx(one[0], abs=1e-9)
        assert other[1] == pytest.approx(one[1], abs=1e-9)
    assert one[2] > 80.0  # the window crossed the CV knee


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=7000.0), min_size=1, max_size=12))
def test_advance_granularity_property(cuts: list[float]) -> None:
    v = VehicleSpec(capacity_kwh=40.0, initial_soc=10.0, target_soc=97.0, max_power_kw=90.0)
    straight = _run([7200.0], v)
    chopped = _run([*sorted(cuts), 7200.0], v)
    assert chopped[0] == pytest.approx(straight[0], abs=1e-9)
    assert chopped[1] == pytest.approx(straight[1], abs=1e-9)


def test_energy_conservation_with_meter_factor() -> None:
    plant = dc_plant(meter_factor=1.03)
    v = VehicleSpec(capacity_kwh=100.0, initial_soc=20.0, target_soc=90.0, max_power_kw=90.0)
    t0 = start_charging(plant, 1, v, 10.0)
    g = plant.gun("0037", 1)
    assert g.meter_kwh(t0) == pytest.approx(METER0, abs=1e-12)
    g.open_contactor(t0 + 1800.0)
    s = g.unplug(t0 + 1900.0)
    assert s.meter_start_kwh == pytest.approx(METER0, abs=1e-12)
    assert s.energy_kwh == pytest.approx(s.metered_kwh / 1.03, abs=1e-9)
    assert s.energy_kwh == pytest.approx((s.soc_end - s.soc_start) * 100.0 / 100.0, abs=1e-9)
    assert s.energy_kwh == pytest.approx(90.0 * 1800.0 / 3600.0, abs=1e-9)  # CC at 90 kW
    assert g.meter_kwh(5000.0) == s.meter_end_kwh  # nothing flows after unplug


def test_meter_is_monotonic_across_sessions() -> None:
    plant = dc_plant()
    g = plant.gun("0037", 1)
    readings = []
    t = 0.0
    for _ in range(3):
        t0 = start_charging(plant, 1, VehicleSpec(initial_soc=40.0), t)
        readings.append(g.meter_kwh(t0))
        g.open_contactor(t0 + 600.0)
        readings.append(g.meter_kwh(t0 + 600.0))
        g.unplug(t0 + 700.0)
        t = t0 + 800.0
    assert readings == sorted(readings)
    sessions = plant.truth_sessions()
    assert [s.seq for s in sessions] == [1, 2, 3]
    total = sum(s.energy_kwh for s in sessions)
    assert g.meter_kwh(t) - METER0 == pytest.approx(total, abs=1e-9)
    assert sessions[1].meter_start_kwh == pytest.approx(sessions[0].meter_end_kwh, abs=1e-9)


# --------------------------------------------------------------------------- BMS stop


def test_bms_stops_at_target_and_prediction_is_exact() -> None:
    plant = dc_plant()
    v = VehicleSpec(capacity_kwh=60.0, initial_soc=20.0, target_soc=95.0, max_power_kw=90.0)
    t0 = start_charging(plant, 1, v, 0.0)
    g = plant.gun("0037", 1)
    predicted = t0 + (g.time_until_bms_stop(t0) or 0.0)
    later = t0 + 600.0
    assert later + (g.time_until_bms_stop(later) or 0.0) == pytest.approx(predicted, abs=1e-6)
    assert g.current_a(predicted - 0.001) > 0.0
    assert g.current_a(predicted) == 0.0
    assert g.bms_stopped(predicted) and g.soc(predicted) == 95.0
    assert g.contactor_closed(predicted)  # BMS stop leaves the contactor to the firmware
    assert g.time_until_bms_stop(predicted) is None
    s = plant.truth_sessions(predicted + 60.0)[0]
    assert s.charge_end == pytest.approx(predicted, abs=1e-9)
    assert s.stop_cause is StopCause.BMS_FULL
    assert s.energy_kwh == pytest.approx(0.75 * 60.0, abs=1e-9)
    assert plant.pile("0037").next_event_time(predicted + 60.0) is None


def test_bms_stop_time_with_shared_budget_and_polling() -> None:
    plant = dc_plant(guns=2, max_power_kw=120.0)
    small = VehicleSpec(capacity_kwh=30.0, initial_soc=50.0, target_soc=80.0, max_power_kw=100.0)
    big = VehicleSpec(capacity_kwh=80.0, initial_soc=10.0, target_soc=90.0, max_power_kw=100.0)
    t1 = start_charging(plant, 1, small, 0.0)
    t2 = start_charging(plant, 2, big, 0.0)
    assert t1 == t2 == 30.0
    g1, g2 = plant.gun("0037", 1), plant.gun("0037", 2)
    assert g1.power_kw(t1) == g2.power_kw(t1) == 60.0
    p1 = t1 + (g1.time_until_bms_stop(t1) or 0.0)
    p2 = t1 + (g2.time_until_bms_stop(t1) or 0.0)  # includes the re-split when gun 1 stops
    t, powers = t1, []
    while g2.charging(t):  # firmware-like polling every 15 s
        powers.append((t, g1.power_kw(t), g2.power_kw(t)))
        t += 15.0
    s1, s2 = plant.truth_sessions()
    assert s1.charge_end == pytest.approx(p1, abs=1e-6)
    assert s2.charge_end == pytest.approx(p2, abs=1e-6)
    assert p1 < p2
    assert all(b == 60.0 for tt, _, b in powers if tt < p1)  # split while both draw
    assert max(b for tt, a, b in powers if tt > p1) == 100.0  # re-split after gun 1 stops
    assert all(a == 0.0 for tt, a, _ in powers if tt > p1)


def test_a_bms_stop_projection_is_redone_when_the_power_split_changes() -> None:
    """The projection is kept while the pile's state holds and redone after a change."""
    plant = dc_plant(guns=2, max_power_kw=120.0)
    v = VehicleSpec(capacity_kwh=60.0, initial_soc=20.0, target_soc=95.0, max_power_kw=100.0)
    t1 = start_charging(plant, 1, v, 0.0)
    g1 = plant.gun("0037", 1)
    alone = t1 + (g1.time_until_bms_stop(t1) or 0.0)
    assert 100.0 + (g1.time_until_bms_stop(100.0) or 0.0) == pytest.approx(alone, abs=1e-6)
    t2 = start_charging(plant, 2, v, 200.0)  # gun 2 now shares the 120 kW
    shared = t2 + (g1.time_until_bms_stop(t2) or 0.0)
    assert shared > alone + 60.0


def test_vehicle_already_at_target_draws_nothing() -> None:
    plant = dc_plant()
    t0 = start_charging(plant, 1, VehicleSpec(initial_soc=90.0, target_soc=90.0), 0.0)
    g = plant.gun("0037", 1)
    assert not g.charging(t0) and g.bms_stopped(t0)
    assert plant.truth_sessions(t0 + 100.0)[0].current == []


# --------------------------------------------------------------------------- handshake


def test_handshake_success_timing_and_current_start() -> None:
    plant = dc_plant()
    g = plant.gun("0037", 1)
    g.plug(100.0, VehicleSpec(handshake_s=42.0))
    assert g.handshake_result(100.0).status is HandshakeStatus.NONE
    assert g.begin_handshake(105.0) and g.close_contactor(105.0)
    assert g.handshake_deadline == 147.0
    assert plant.next_event_time(105.0) == 147.0
    r = g.handshake_result(146.9)
    assert r.status is HandshakeStatus.IN_PROGRESS and r.deadline == 147.0
    assert g.current_a(146.9) == 0.0  # contactor closed, but BMS not ready
    assert g.handshake_result(147.0).status is HandshakeStatus.DONE
    assert g.current_a(147.0) > 0.0
    s = plant.truth_sessions()[0]
    assert s.charge_start == 147.0 and s.contactor_closed_at == 105.0
    assert s.handshakes[0].status is HandshakeStatus.DONE


@pytest.mark.parametrize("reason", ["bhm_timeout", "brm_timeout", "bcp_timeout", "insulation"])
def test_handshake_failure_reports_reason_at_deadline(reason: str) -> None:
    plant = dc_plant()
    g = plant.gun("0037", 1)
    g.plug(0.0, VehicleSpec(handshake_s=25.0, handshake_failure=reason))
    assert g.begin_handshake(0.0) and g.close_contactor(0.0)
    assert g.handshake_result(24.999).status is HandshakeStatus.IN_PROGRESS
    r = g.handshake_result(25.0)
    assert (r.status, r.reason) == (HandshakeStatus.FAILED, reason)
    assert g.current_a(600.0) == 0.0 and g.bms(600.0) is None
    s = plant.truth_sessions()[0]
    assert s.current == [] and s.energy_kwh == 0.0 and s.handshakes[0].reason == reason


def test_handshake_refused_without_vehicle_power_or_with_estop() -> None:
    plant = dc_plant()
    pile, g = plant.pile("0037"), plant.gun("0037", 1)
    assert not g.begin_handshake(0.0)  # nothing plugged
    g.plug(1.0, VehicleSpec())
    pile.power_cut(2.0)
    assert not g.begin_handshake(2.0) and not g.close_contactor(2.0)
    pile.power_restore(3.0)
    pile.press_emergency_stop(3.0)
    assert not g.begin_handshake(3.0) and not g.close_contactor(3.0)
    pile.release_emergency_stop(4.0)
    assert g.begin_handshake(4.0)


def test_unplug_during_handshake_aborts_it() -> None:
    plant = dc_plant()
    g = plant.gun("0037", 1)
    g.plug(0.0, VehicleSpec(handshake_s=30.0))
    g.begin_handshake(0.0)
    s = g.unplug(10.0)
    assert s.handshakes[0].status is HandshakeStatus.ABORTED
    assert g.handshake_result(40.0).status is HandshakeStatus.NONE
    assert plant.next_event_time(40.0) is None


# --------------------------------------------------------------------------- stimuli


def test_unplug_while_charging_stops_current_and_records_truth() -> None:
    plant = dc_plant()
    g = plant.gun("0037", 1)
    t0 = start_charging(plant, 1, VehicleSpec(initial_soc=30.0, max_power_kw=60.0), 50.0)
    assert g.current_a(t0 + 900.0) > 0.0
    s = g.unplug(t0 + 1000.0)
    assert g.in_holster(t0 + 1000.0) and not g.contactor_closed(t0 + 1000.0)
    assert g.current_a(t0 + 1000.0) == 0.0
    assert (s.plug_at, s.charge_start, s.charge_end, s.unplug_at) == (
        50.0,
        t0,
        t0 + 1000.0,
        t0 + 1000.0,
    )
    assert s.stop_cause is StopCause.UNPLUG and s.contactor_opened_at == t0 + 1000.0
    assert s.energy_kwh == pytest.approx(60.0 * 1000.0 / 3600.0, abs=1e-9)
    assert not s.is_open
    with pytest.raises(PlantError):
        g.unplug(t0 + 1001.0)


def test_plug_twice_and_time_travel_are_rejected() -> None:
    plant = dc_plant()
    g = plant.gun("0037", 1)
    g.plug(10.0, VehicleSpec())
    with pytest.raises(PlantError):
        g.plug(11.0, VehicleSpec())
    with pytest.raises(ValueError, match="backwards"):
        g.current_a(5.0)


def test_emergency_stop_stops_current_and_needs_new_handshake() -> None:
    plant = dc_plant()
    pile, g = plant.pile("0037"), plant.gun("0037", 1)
    t0 = start_charging(plant, 1, VehicleSpec(initial_soc=30.0), 0.0)
    pile.press_emergency_stop(t0 + 300.0)
    assert g.emergency_stop_pressed(t0 + 300.0) and pile.emergency_stop_pressed(t0 + 300.0)
    assert g.current_a(t0 + 300.0) == 0.0 and not g.contactor_closed(t0 + 300.0)
    assert g.handshake_result(t0 + 300.0).status is HandshakeStatus.NONE
    e = g.meter_kwh(t0 + 300.0)
    assert g.meter_kwh(t0 + 900.0) == e
    pile.release_emergency_stop(t0 + 900.0)
    assert g.current_a(t0 + 900.0) == 0.0  # nothing restarts by itself
    t1 = start_charging_existing(plant, 1, t0 + 900.0)
    assert g.current_a(t1) > 0.0
    s = plant.truth_sessions()[0]
    assert s.current[0].end == t0 + 300.0
    assert s.current[0].end_cause is StopCause.EMERGENCY_STOP
    assert s.current[1].start == t1 and len(s.handshakes) == 2


def test_power_cut_stops_current_until_firmware_restarts() -> None:
    plant = dc_plant()
    pile, g = plant.pile("0037"), plant.gun("0037", 1)
    t0 = start_charging(plant, 1, VehicleSpec(initial_soc=30.0, max_power_kw=60.0), 0.0)
    plant.power_cut(t0 + 600.0)
    assert not pile.power_present(t0 + 600.0)
    assert g.current_a(t0 + 601.0) == 0.0 and g.voltage_v(t0 + 601.0) == 0.0
    assert g.time_until_bms_stop(t0 + 601.0) is None
    m = g.meter_kwh(t0 + 601.0)
    plant.power_restore(t0 + 1200.0)
    assert g.current_a(t0 + 1200.0) == 0.0 and g.meter_kwh(t0 + 1300.0) == m
    t1 = start_charging_existing(plant, 1, t0 + 1300.0)
    g.open_contactor(t1 + 600.0)
    s = plant.truth_sessions()[0]
    assert [c.end_cause for c in s.current] == [StopCause.POWER_CUT, StopCause.CONTACTOR_OPEN]
    assert s.energy_kwh == pytest.approx(60.0 * 1200.0 / 3600.0, abs=1e-9)


def test_open_contactor_keeps_bms_session() -> None:
    plant = dc_plant()
    g = plant.gun("0037", 1)
    t0 = start_charging(plant, 1, VehicleSpec(initial_soc=30.0), 0.0)
    g.open_contactor(t0 + 100.0)
    assert g.current_a(t0 + 100.0) == 0.0 and g.voltage_v(t0 + 100.0) == 0.0
    assert g.handshake_result(t0 + 100.0).status is HandshakeStatus.DONE
    g.close_contactor(t0 + 200.0)
    assert g.current_a(t0 + 200.0) > 0.0
    s = plant.truth_sessions()[0]
    assert [(i.start, i.end) for i in s.current] == [(t0, t0 + 100.0), (t0 + 200.0, None)]
    assert s.charge_end is None and s.is_open


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("pile_kw", "vehicle_kw", "expected"), [(60.0, 90.0, 60.0), (120.0, 90.0, 90.0)]
)
def test_dc_power_is_min_of_pile_and_vehicle(
    pile_kw: float, vehicle_kw: float, expected: float
) -> None:
    plant = dc_plant(max_power_kw=pile_kw)
    t0 = start_charging(plant, 1, VehicleSpec(initial_soc=10.0, max_power_kw=vehicle_kw), 0.0)
    assert plant.gun("0037", 1).power_kw(t0 + 1.0) == expected


def test_ac_pile_limits_power_and_hides_soc() -> None:
    plant = Plant()
    plant.add_pile("0100", PileSpec("AC"))
    plant.add_pile("0101", PileSpec("AC"))
    g = plant.gun("0100", 1)
    g.plug(0.0, VehicleSpec(initial_soc=20.0, max_power_kw=90.0, handshake_s=50.0))
    assert g.begin_handshake(0.0) and g.close_contactor(0.0)
    assert g.handshake_deadline == 2.0  # AC: short handshake, not the BMS one
    assert g.power_kw(2.0) == 7.0 and g.voltage_v(2.0) == 220.0
    assert g.current_a(2.0) == pytest.approx(7000.0 / 220.0)
    assert g.soc(3602.0) == 0.0 and g.bms(3602.0) is None
    assert g.true_soc(3602.0) == pytest.approx(20.0 + 7.0 / 60.0 * 100.0)
    obc = plant.gun("0101", 1)
    obc.plug(0.0, VehicleSpec(ac_max_power_kw=6.6))
    obc.begin_handshake(0.0)
    obc.close_contactor(0.0)
    assert obc.power_kw(10.0) == 6.6  # the vehicle's own limit still applies


def test_power_limit_percent() -> None:
    plant = dc_plant(max_power_kw=120.0)
    pile, g = plant.pile("0037"), plant.gun("0037", 1)
    t0 = start_charging(plant, 1, VehicleSpec(initial_soc=10.0, max_power_kw=100.0), 0.0)
    assert g.power_kw(t0) == 100.0
    before = g.time_until_bms_stop(t0 + 60.0)
    pile.set_power_limit_percent(t0 + 60.0, 50)
    assert pile.power_limit_percent == 50.0
    assert g.power_kw(t0 + 60.0) == 60.0 and g.power_limit_kw(t0 + 60.0) == 60.0
    after = g.time_until_bms_stop(t0 + 60.0)
    assert before is not None and after is not None and after > before
    for bad in (29.0, 101.0):
        with pytest.raises(ValueError, match=r"30\.\.100"):
            pile.set_power_limit_percent(t0 + 61.0, bad)


def test_shared_budget_is_split_and_resplit() -> None:
    plant = dc_plant(guns=2, max_power_kw=120.0)
    g1, g2 = plant.gun("0037", 1), plant.gun("0037", 2)
    v = VehicleSpec(initial_soc=10.0, max_power_kw=100.0)
    t1 = start_charging(plant, 1, v, 0.0)
    assert g1.power_kw(t1) == 100.0
    assert g2.power_limit_kw(t1) == 60.0  # what it would get if it started now
    t2 = start_charging(plant, 2, v, t1 + 60.0)
    assert g1.power_kw(t2) == g2.power_kw(t2) == 60.0
    g2.unplug(t2 + 300.0)
    assert g1.power_kw(t2 + 300.0) == 100.0


def test_per_gun_budget_when_not_shared() -> None:
    plant = dc_plant(guns=2, max_power_kw=120.0, shared=False)
    v = VehicleSpec(initial_soc=10.0, max_power_kw=150.0)
    start_charging(plant, 1, v, 0.0)
    t = start_charging(plant, 2, v, 0.0)
    assert plant.gun("0037", 1).power_kw(t) == plant.gun("0037", 2).power_kw(t) == 120.0


# --------------------------------------------------------------------------- container / specs


def test_plant_container_and_spec_validation() -> None:
    plant = Plant()
    pile = plant.add_pile("A", PileSpec("DC", guns=2), meter_start_kwh=[1.0, 2.0])
    assert plant["A", 2] is pile.gun(2) and pile.gun(2).meter_kwh(0.0) == 2.0
    assert PileSpec("DC").power_kw == 60.0 and PileSpec("AC").power_kw == 7.0
    with pytest.raises(ValueError):
        plant.add_pile("A", PileSpec())
    with pytest.raises(KeyError):
        plant.gun("A", 3)
    with pytest.raises(ValueError):
        PileSpec("DC", guns=3)
    with pytest.raises(ValueError):
        VehicleSpec(vin="SHORT")
    with pytest.raises(ValueError):
        VehicleSpec(initial_soc=101.0)


def test_station_month_is_event_driven() -> None:
    """54 piles, ~1600 sessions over 30 days, no polling: cheap and consistent."""
    plant = Plant()
    for p in range(54):
        plant.add_pile(f"{p:04d}", PileSpec("DC", guns=2, max_power_kw=120.0))
    n = 0
    for day in range(30):
        for p in range(54):
            pile_no = f"{p:04d}"
            gun = 1 + (day + p) % 2
            t = day * 86400.0 + p * 600.0
            g = plant.gun(pile_no, gun)
            v = VehicleSpec(initial_soc=10.0 + p % 50, target_soc=95.0, handshake_s=20.0 + p % 35)
            g.plug(t, v)
            g.begin_handshake(t)
            g.close_contactor(t)
            stop = g.time_until_bms_stop(t + 60.0)
            assert stop is not None
            g.open_contactor(t + 60.0 + min(stop, 2400.0))
            g.unplug(t + 4000.0)
            n += 1
    sessions = plant.truth_sessions(31 * 86400.0)
    assert len(sessions) == n == 1620
    assert all(s.charge_end is not None and s.unplug_at is not None for s in sessions)
    total = sum(s.energy_kwh for s in sessions)
    metered = sum(g.meter_kwh(31 * 86400.0) for p in plant.piles() for g in p.guns)
    assert metered == pytest.approx(total, abs=1e-6)
