"""Counting sessions per firmware profile and anomaly label, as the operator's field table does.

A session (one plug-in, one :class:`~simrig.oracle.judge.SessionVerdict`) is counted once,
under the combo label of all its codes (``"9+11"``), like field-incidents.md "Lost-bill
rates by firmware" (``9 × 23, 9+10 × 2, 9+11 × 3``). Per-code totals (sessions carrying a
code, alone or in a combo) are kept as well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from simrig.domain.anomaly import AnomalyCode, combo_label, describe, parse_combo
from simrig.oracle.judge import SessionVerdict
from simrig.sim.results import RunResult

__all__ = [
    "SINGLE_LABELS",
    "ProfileStats",
    "label_description",
    "label_order",
    "ordered_labels",
    "profile_of",
    "stats_by_profile",
]

#: the eleven single-code labels, always shown in A/B tables
SINGLE_LABELS: tuple[str, ...] = tuple(str(int(c)) for c in AnomalyCode)


@dataclass
class ProfileStats:
    """One firmware profile's sessions: how many, and how many per anomaly label."""

    profile: str
    sessions: int = 0
    anomalous: int = 0
    #: exact combo label ("1", "9+11") -> sessions whose code set is exactly that
    by_label: Counter[str] = field(default_factory=Counter)
    #: code -> sessions carrying that code (alone or with others)
    by_code: Counter[int] = field(default_factory=Counter)
    false_notifications: int = 0
    sessions_with_false_notice: int = 0
    charged_yuan: float = 0.0
    fair_yuan: float = 0.0
    overcharge_yuan: float = 0.0

    def add(self, verdict: SessionVerdict) -> None:
        self.sessions += 1
        if verdict.codes:
            self.anomalous += 1
            self.by_label[combo_label(verdict.codes)] += 1
            for code in verdict.codes:
                self.by_code[int(code)] += 1
        if verdict.false_notifications:
            self.false_notifications += len(verdict.false_notifications)
            self.sessions_with_false_notice += 1
        self.fair_yuan += verdict.fair_yuan
        if verdict.charged_yuan is not None:
            self.charged_yuan += verdict.charged_yuan
        if verdict.overcharge_yuan is not None:
            self.overcharge_yuan += verdict.overcharge_yuan

    def count(self, label: str) -> int:
        """Sessions under ``label``; ``"any"`` = anomalous sessions."""
        if label == "any":
            return self.anomalous
        return self.by_label.get(label, 0)

    def rate(self, label: str) -> float:
        """Sessions under ``label`` per 1,000 sessions (0 when there are no sessions)."""
        if not self.sessions:
            return 0.0
        return 1000.0 * self.count(label) / self.sessions

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "sessions": self.sessions,
            "anomalous": self.anomalous,
            "by_label": dict(sorted(self.by_label.items(), key=lambda kv: label_order(kv[0]))),
            "by_code": {str(k): v for k, v in sorted(self.by_code.items())},
            "false_notifications": self.false_notifications,
            "sessions_with_false_notice": self.sessions_with_false_notice,
            "charged_yuan": round(self.charged_yuan, 4),
            "fair_yuan": round(self.fair_yuan, 4),
            "overcharge_yuan": round(self.overcharge_yuan, 4),
        }


def label_order(label: str) -> tuple[int, tuple[int, ...]]:
    """Sort key: single codes by number, then combos by size and codes ("9+10" < "9+11")."""
    codes = tuple(int(c) for c in sorted(parse_combo(label)))
    return (len(codes), codes)


def ordered_labels(labels: Iterable[str], *, all_single: bool = False) -> list[str]:
    """Labels in field-table order; with ``all_single`` the codes 1–11 are always present."""
    seen = set(labels) - {""}
    if all_single:
        seen |= set(SINGLE_LABELS)
    return sorted(seen, key=label_order)


def label_description(label: str) -> str:
    """Meaning of a label: the code's description, or the combo's short meanings."""
    codes = sorted(parse_combo(label))
    if len(codes) == 1:
        return describe(codes[0])
    return " + ".join(describe(c).split(" (")[0] for c in codes)


def profile_of(result: RunResult, verdict: SessionVerdict) -> str:
    """Firmware profile of the verdict's pile (as at the end of the run)."""
    return result.profiles.get(verdict.truth.pile_no, "?")


def stats_by_profile(results: Iterable[RunResult]) -> list[ProfileStats]:
    """Sessions of all runs grouped by the firmware profile of their pile, in first-seen order."""
    stats: dict[str, ProfileStats] = {}
    for result in results:
        for verdict in result.verdicts:
            name = profile_of(result, verdict)
            stats.setdefault(name, ProfileStats(name)).add(verdict)
    return list(stats.values())
