"""The platform's bad-bill classification: anomaly codes 1-11 (field-incidents.md).

Pure data: codes, their meanings, and the ``"9+11"`` labels the operator's field
statistics use for bills carrying several codes (igo_case#17).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Anomaly", "AnomalyCode", "combo_label", "describe", "parse_combo"]


class AnomalyCode(IntEnum):
    """Anomaly code of a bill; values are the operator's own (field-incidents.md).

    Each member's ``__doc__`` and ``description`` is the field table's meaning.
    """

    BILL_LOST = 1
    BILL_LOST_OFFLINE = 2
    TIME_ANOMALY = 3
    ENERGY_ANOMALY = 4
    DURATION_ANOMALY = 5  # charging duration
    OCCUPANCY_ANOMALY = 6  # occupancy duration
    OVERLAP = 7
    ENERGY_MISMATCH = 8
    DURATION_MISMATCH = 9  # charging duration
    OCCUPANCY_MISMATCH = 10  # occupancy duration
    ENERGY_LOST = 11

    @property
    def description(self) -> str:
        """The meaning of the code, as in the field table."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: dict[AnomalyCode, str] = {
    AnomalyCode.BILL_LOST: "bill lost (pile never uploaded a transaction record)",
    AnomalyCode.BILL_LOST_OFFLINE: "bill lost while the device was offline",
    AnomalyCode.TIME_ANOMALY: "time anomaly (times in the bill impossible / out of order / "
    "clock skew)",
    AnomalyCode.ENERGY_ANOMALY: "energy anomaly (bill energy implausible)",
    AnomalyCode.DURATION_ANOMALY: "charging-duration anomaly",
    AnomalyCode.OCCUPANCY_ANOMALY: "occupancy-duration anomaly",
    AnomalyCode.OVERLAP: "charging time overlaps another session on the same gun",
    AnomalyCode.ENERGY_MISMATCH: "bill energy disagrees with the platform's own record "
    "(from realtime data)",
    AnomalyCode.DURATION_MISMATCH: "charging duration disagrees with the platform's record",
    AnomalyCode.OCCUPANCY_MISMATCH: "occupancy duration disagrees with the platform's record",
    AnomalyCode.ENERGY_LOST: "energy lost (energy delivered but missing from the bill)",
}
for _code in AnomalyCode:
    _code.__doc__ = _DESCRIPTIONS[_code]
del _code


def describe(code: AnomalyCode | int) -> str:
    """Meaning of ``code``; raises ``ValueError`` for a number outside 1-11."""
    return AnomalyCode(code).description


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One finding about one session's bill."""

    code: AnomalyCode
    session_key: str
    """Which session (e.g. the transaction serial or the scenario's session id)."""
    detail: str
    """Human-readable explanation with the numbers that triggered it."""
    evidence: tuple[str, ...] = ()
    """Free-form references backing the finding (frame ids, capture offsets, ...)."""

    def __str__(self) -> str:
        return f"[{int(self.code)}] {self.session_key}: {self.detail}"


def combo_label(codes: Iterable[AnomalyCode | int]) -> str:
    """Field-table label of a set of codes: sorted, unique, '+'-joined ("9+11"); "" if none."""
    return "+".join(str(int(code)) for code in sorted({AnomalyCode(c) for c in codes}))


def parse_combo(label: str) -> frozenset[AnomalyCode]:
    """Inverse of :func:`combo_label`: ``"9+11"`` -> {9, 11}; "" -> empty set."""
    label = label.strip()
    if not label:
        return frozenset()
    try:
        return frozenset(AnomalyCode(int(part)) for part in label.split("+"))
    except ValueError:
        raise ValueError(f"not an anomaly label like '9+11': {label!r}") from None
