"""The pile's integer meter conversion equals the Decimal one it replaces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simrig.billing.tariff import energy_from_kwh
from simrig.firmware_models.pile import meter_units


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False))
def test_meter_units_equals_decimal_rounding(kwh: float) -> None:
    assert meter_units(kwh) == energy_from_kwh(round(kwh, 6))


def test_meter_units_ties_round_half_up() -> None:
    assert meter_units(0.00005) == 1
    assert meter_units(1.23445) == energy_from_kwh("1.23445") == 12345
    assert meter_units(0.000049) == 0
