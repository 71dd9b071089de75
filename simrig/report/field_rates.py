"""The field's anomaly rates per firmware (../shared/docs/field-incidents.md) and the
calibration rule the rig is held to (issue 14 item 6): a rig rate must fall inside the
field's own Wilson 95 % interval widened to ±20 % of the field rate, whichever bound is
wider.

Rates are per session under the operator's label (the exact code set, as its table
counts ``9 × 23, 9+10 × 2``; ``any`` = any anomaly). Each row names the **view** it is
calibrated against: ``oracle`` (the oracle's verdicts, which also know the truth and add
codes such as 3/5 no field platform could see) or ``platform`` (the reference platform's
own anomaly flags, :func:`simrig.cli.fleet.platform_flags`: what an operator's platform
counts, as igo_case#17's table did)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .ab import wilson_interval

if TYPE_CHECKING:
    from .stats import ProfileStats

__all__ = ["CI_ROWS", "FIELD_RATES", "OLD_LINE", "FieldRate", "View"]

View = Literal["oracle", "platform"]
"""Whose codes a field row is held to: the oracle's verdicts or the platform's own flags."""


@dataclass(frozen=True, slots=True)
class FieldRate:
    case: str
    firmware: str
    profile: str
    label: str
    count: int
    sessions: int
    note: str = ""
    view: View = "oracle"

    @property
    def rate(self) -> float:
        return self.count / self.sessions

    def acceptance(self) -> tuple[float, float]:
        """The Wilson 95 % interval, each bound widened to ±20 % of the rate if wider."""
        low, high = wilson_interval(self.count, self.sessions)
        return min(low, 0.8 * self.rate), max(high, 1.2 * self.rate)

    def accepts(self, count: int, sessions: int) -> bool:
        low, high = self.acceptance()
        return low <= count / sessions <= high

    def rig_count(self, stats: ProfileStats, flags: Counter[str]) -> int:
        """The rig's count under this row's label in this row's view: ``stats`` (the
        oracle's verdicts of one profile) or ``flags`` (the platform's own flags of the
        same fleet, :func:`simrig.cli.fleet.platform_flags`)."""
        if self.view == "oracle":
            return stats.count(self.label)
        return sum(flags.values()) if self.label == "any" else flags.get(self.label, 0)


_OLD_N = 11_700  # "≈ 11,700 sessions" on 14 piles of 11536/11523

#: igo_case#17's old line, as the site's platform counted it; each of the two profiles
#: must match the line's table by itself (the field did not split it by version)
OLD_LINE: tuple[tuple[str, int], ...] = (
    ("1", 21),
    ("9", 23),
    ("10", 4),
    ("9+11", 3),
    ("9+10", 2),
    ("3", 3),
)

FIELD_RATES: tuple[FieldRate, ...] = (
    FieldRate("zpd_case#7", "2090104", "sinexcel-dc@2090104", "1", 162, 1451),
    FieldRate("zpd_case#3", "2090xxx", "sinexcel-dc@2090100", "1", 37, 267),
    FieldRate("zpd_case#10", "2090404", "sinexcel-dc@2090404", "any", 0, 74),
    *(
        FieldRate(
            "igo_case#17", version, f"sinexcel-dc@{version}", label, count, _OLD_N, view="platform"
        )
        for version in ("11536", "11523")
        for label, count in OLD_LINE
    ),
    FieldRate(
        "igo_case#17",
        "2090104",
        "sinexcel-dc@2090104",
        "1",
        29,
        1202 + 539,
        note="the same firmware lost 11.2 % in zpd_case#7 but 1.7 % here: the two field "
        "intervals do not overlap even widened, so no one profile matches both (a site "
        "effect the rig does not model); the profile follows zpd_case#7",
    ),
)
"""Every field rate; rows with a ``note`` are reported, not required."""

#: rows a CI-sized fleet can check (a few hundred sessions show them)
CI_ROWS: tuple[FieldRate, ...] = FIELD_RATES[:3]
