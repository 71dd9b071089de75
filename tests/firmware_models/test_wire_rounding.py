"""How the pile rounds plant readings for the wire (meter register, 0x13/0x23 values)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simrig.domain import energy_from_kwh
from simrig.firmware_models.wire_rounding import meter_units, steady, whole


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False))
def test_meter_units_equals_decimal_rounding(kwh: float) -> None:
    assert meter_units(kwh) == energy_from_kwh(round(kwh, 6))


def test_meter_units_ties_round_half_up() -> None:
    assert meter_units(0.00005) == 1
    assert meter_units(1.23445) == energy_from_kwh("1.23445") == 12345
    assert meter_units(0.000049) == 0


@settings(max_examples=500, deadline=None)
@given(
    st.integers(min_value=-500_000, max_value=9_999_999),
    st.floats(min_value=-4e-7, max_value=4e-7),
)
def test_readings_ignore_float_noise(tenths: int, noise: float) -> None:
    """The same instant integrated in different steps reads the same on the wire."""
    exact = tenths / 10
    assert steady(exact + noise, 1) == steady(exact, 1) == exact


def test_readings_round_half_up() -> None:
    assert steady(400.05, 1) == 400.1
    assert steady(36.5, 0) == 37.0
    assert steady(-10.5, 0) == -10.0
    assert steady(12.34, 0) == 12.0


# the fast paths must give what their definitions give, near rounding edges too
_NEAR_EDGES = st.builds(
    lambda whole_part, tenths, offset: whole_part + tenths / 10 + offset,
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10),
    st.sampled_from([0.0, 1e-12, -1e-12, 5e-7, -5e-7, 4.9e-7, -4.9e-7, 1e-3, -1e-3]),
)
_VALUES = st.floats(min_value=-1e16, max_value=1e16, allow_nan=False) | _NEAR_EDGES


@settings(max_examples=600, deadline=None)
@given(_VALUES)
def test_meter_units_fast_path_equals_definition(kwh: float) -> None:
    micro = round(round(kwh, 6) * 1_000_000)
    expected = energy_from_kwh(round(kwh, 6)) if micro < 0 else (micro + 50) // 100
    assert meter_units(kwh) == expected


@settings(max_examples=600, deadline=None)
@given(_VALUES | st.floats(min_value=0.0, max_value=100.0))
def test_whole_equals_int_of_6_decimal_rounding(value: float) -> None:
    assert whole(value) == int(round(value, 6))


def test_whole_drops_noise_below_the_next_integer() -> None:
    assert whole(79.99999999999) == 80
    assert whole(79.9999) == 79
    assert whole(80.0000000001) == 80
