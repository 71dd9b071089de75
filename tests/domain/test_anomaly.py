"""Anomaly codes 1-11 and field-table labels (simrig.domain.anomaly)."""

from __future__ import annotations

import dataclasses

import pytest

from simrig.domain import Anomaly, AnomalyCode, combo_label, describe, parse_combo

FIELD_TABLE = {
    1: "bill lost (pile never uploaded a transaction record)",
    2: "bill lost while the device was offline",
    3: "time anomaly (times in the bill impossible / out of order / clock skew)",
    4: "energy anomaly (bill energy implausible)",
    5: "charging-duration anomaly",
    6: "occupancy-duration anomaly",
    7: "charging time overlaps another session on the same gun",
    8: "bill energy disagrees with the platform's own record (from realtime data)",
    9: "charging duration disagrees with the platform's record",
    10: "occupancy duration disagrees with the platform's record",
    11: "energy lost (energy delivered but missing from the bill)",
}


def test_codes_match_field_table_exactly() -> None:
    assert [int(code) for code in AnomalyCode] == list(range(1, 12))
    for value, meaning in FIELD_TABLE.items():
        assert describe(value) == meaning
        assert AnomalyCode(value).description == meaning
        assert AnomalyCode(value).__doc__ == meaning  # member docstring


def test_describe_rejects_unknown_code() -> None:
    with pytest.raises(ValueError):
        describe(12)


def test_named_members() -> None:
    assert AnomalyCode.BILL_LOST == 1
    assert AnomalyCode.DURATION_MISMATCH == 9
    assert AnomalyCode.OCCUPANCY_MISMATCH == 10
    assert AnomalyCode.ENERGY_LOST == 11


@pytest.mark.parametrize(
    ("codes", "label"),
    [
        ({9, 10}, "9+10"),  # igo_case#17
        ([11, AnomalyCode.DURATION_MISMATCH], "9+11"),  # numeric, not lexical, order
        ([10, 11, 10], "10+11"),  # duplicates collapse
        ([3], "3"),
        ([], ""),
    ],
)
def test_combo_label(codes: list[int], label: str) -> None:
    assert combo_label(codes) == label
    assert parse_combo(label) == frozenset(AnomalyCode(c) for c in codes)


def test_combo_rejects_unknown() -> None:
    with pytest.raises(ValueError):
        combo_label([0])
    with pytest.raises(ValueError, match="9\\+x"):
        parse_combo("9+x")


def test_anomaly_is_frozen_value() -> None:
    finding = Anomaly(
        AnomalyCode.BILL_LOST,
        "20191125004937842819",
        "no 0x3B within 30 s of stop",
        evidence=("frame#12", "frame#13"),
    )
    assert str(finding) == "[1] 20191125004937842819: no 0x3B within 30 s of stop"
    assert finding == dataclasses.replace(finding)
    assert Anomaly(AnomalyCode.OVERLAP, "k", "d").evidence == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.detail = "x"  # type: ignore[misc]
