"""Firmware A/B with honest statistics: Wilson 95 % intervals per anomaly rate, and per
label a significance verdict of each profile against the first.

* **Wilson score interval** of one proportion (Wilson 1927; Newcombe 1998 method 3):
  right at zero counts, where the normal interval collapses.
* **Newcombe hybrid score interval** of a difference of two proportions (Newcombe 1998,
  method 10), built from the two Wilson intervals.
* **Fisher's exact test** (two-sided: the tables at most as probable as the one seen),
  exact at the small counts rare codes have, where the pooled two-proportion z-test is
  too eager (a profile against itself: 4 vs 0 of 30 gives z-test p 0.038, Fisher 0.11).
  Its p-values are adjusted by **Holm**'s step-down procedure over the labels compared,
  so a profile compared with itself is called different in about 5 % of seeds at most,
  not 5 % per label.

A label is "significant" when its Holm-adjusted Fisher p < 0.05. The two arms run on the same
sessions (common workload) with independent firmware draws; the tests treat them as
independent samples, which is conservative for a shared workload. The normal quantile
comes from the standard library (``statistics.NormalDist``), the hypergeometric terms
from ``math.lgamma``; nothing else is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

from .stats import ProfileStats, ordered_labels

__all__ = [
    "ALPHA",
    "Comparison",
    "LabelRow",
    "ab_rows",
    "fisher_exact_p",
    "holm",
    "meaning",
    "newcombe_interval",
    "summary_text",
    "two_proportion_p",
    "wilson_interval",
]

ALPHA = 0.05

#: short names of the codes (domain/anomaly.py has the long ones), so a combo's meaning
#: stays one readable cell
SHORT: dict[str, str] = {
    "1": "bill lost",
    "2": "bill lost offline",
    "3": "time anomaly",
    "4": "energy anomaly",
    "5": "charging duration",
    "6": "occupancy duration",
    "7": "overlap",
    "8": "energy vs platform",
    "9": "duration vs platform",
    "10": "occupancy vs platform",
    "11": "energy lost",
    "any": "any anomaly",
}


def meaning(label: str) -> str:
    """``"9+11"`` → ``"duration vs platform + energy lost"``."""
    return " + ".join(SHORT.get(part, part) for part in label.split("+"))


_Z = NormalDist().inv_cdf(1 - ALPHA / 2)


def wilson_interval(k: int, n: int, z: float = _Z) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` (0..1; (0, 1) when n = 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, z: float = _Z) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p2 − p1 (method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    d = p2 - p1
    lower = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    upper = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return lower, upper


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p of the pooled two-proportion z-test (1.0 when nothing varies)."""
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 1.0
    z = abs(k2 / n2 - k1 / n1) / math.sqrt(var)
    return 2 * (1 - NormalDist().cdf(z))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p of Fisher's exact test on ``k1`` of ``n1`` against ``k2`` of ``n2``:
    the hypergeometric probability of every table (same margins) at most as probable as
    the one seen."""
    total = k1 + k2
    low, high = max(0, total - n2), min(total, n1)
    denominator = _log_comb(n1 + n2, total)

    def log_p(x: int) -> float:
        return _log_comb(n1, x) + _log_comb(n2, total - x) - denominator

    seen = log_p(k1)
    tolerance = 1e-7
    p = sum(math.exp(lp) for x in range(low, high + 1) if (lp := log_p(x)) <= seen + tolerance)
    return min(1.0, p)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True, slots=True)
class Comparison:
    """One profile against the first on one label."""

    diff: float  # rate difference (this − first), 0..1 scale
    low: float
    high: float
    p: float  # Fisher's exact test
    p_holm: float  # Holm-adjusted over the labels compared

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    @property
    def verdict(self) -> str:
        if not self.significant:
            return "no significant difference"
        return "higher" if self.diff > 0 else "lower"


@dataclass
class LabelRow:
    """One anomaly label (code or combo as the field counts it, or ``any``)."""

    label: str
    meaning: str
    counts: list[int]
    intervals: list[tuple[float, float]]
    #: per profile after the first (None: nothing to compare, zero in both)
    comparisons: list[Comparison | None] = field(default_factory=list)


def ab_rows(stats: Sequence[ProfileStats]) -> list[LabelRow]:
    """Rows for codes 1–11, the combos seen and ``any``, each profile against the first."""
    labels = [*ordered_labels((lb for s in stats for lb in s.by_label), all_single=True), "any"]
    rows = []
    for label in labels:
        counts = [s.count(label) for s in stats]
        rows.append(
            LabelRow(
                label=label,
                meaning=meaning(label),
                counts=counts,
                intervals=[
                    wilson_interval(c, s.sessions) for c, s in zip(counts, stats, strict=True)
                ],
            )
        )
    first = stats[0] if stats else None
    for j, other in enumerate(stats[1:], start=1):
        assert first is not None
        tested = [
            r for r in rows if r.label != "any" and (r.counts[0] or r.counts[j])
        ]  # "any" is not one more test: it is the union of the others
        ps = [
            fisher_exact_p(r.counts[0], first.sessions, r.counts[j], other.sessions) for r in tested
        ]
        adjusted = dict(zip((r.label for r in tested), holm(ps), strict=True))
        for r in rows:
            k1, k2 = r.counts[0], r.counts[j]
            if (not k1 and not k2) or not first.sessions or not other.sessions:
                r.comparisons.append(None)
                continue
            p = fisher_exact_p(k1, first.sessions, k2, other.sessions)
            low, high = newcombe_interval(k1, first.sessions, k2, other.sessions)
            diff = k2 / other.sessions - k1 / first.sessions
            r.comparisons.append(Comparison(diff, low, high, p, adjusted.get(r.label, p)))
    return rows


def _permille(x: float) -> str:
    return f"{1000 * x:.2f}"


def _p(p: float) -> str:
    return "<1e-6" if p < 1e-6 else f"{p:.3g}"


def summary_text(stats: Sequence[ProfileStats], header: Sequence[str] = ()) -> str:
    """The field's table layout: sessions, then per label count and ‰ per profile side by
    side with the Wilson 95 % interval, then each profile against the first (difference
    in ‰ with Newcombe's 95 % interval, p, Holm-adjusted p, verdict). Profile names are
    never truncated: columns are as wide as they need."""
    rows = ab_rows(stats)
    lines = [*header]
    lines.append(
        "Rates per 1,000 sessions (‰) with Wilson 95 % intervals. Each profile against the "
        f"first ({stats[0].profile if stats else '-'}): difference in ‰ with Newcombe's 95 % "
        "interval, Fisher's exact p and Holm-adjusted p over the labels compared; "
        "significant when the adjusted p < 0.05."
    )
    lines.append("")
    cells: list[list[str]] = []
    head = ["code", "meaning"]
    for s in stats:
        head += [f"{s.profile} n", "‰", "95 % interval"]
    for s in stats[1:]:
        head += [f"{s.profile} − first ‰", "95 % interval", "p", "p (Holm)", "verdict"]
    cells.append(head)
    blank = ["", "", "", "", ""] * (len(stats) - 1)
    cells.append(
        [
            "sessions",
            "sessions judged",
            *(x for s in stats for x in (str(s.sessions), "", "")),
            *blank,
        ]
    )
    for r in rows:
        row = [r.label, r.meaning]
        for count, s, (lo, hi) in zip(r.counts, stats, r.intervals, strict=True):
            rate = count / s.sessions if s.sessions else 0.0
            row += [str(count), _permille(rate), f"[{_permille(lo)}, {_permille(hi)}]"]
        for c in r.comparisons:
            if c is None:
                row += ["—", "", "", "", "none in either"]
            else:
                row += [
                    f"{1000 * c.diff:+.2f}",
                    f"[{1000 * c.low:+.2f}, {1000 * c.high:+.2f}]",
                    _p(c.p),
                    _p(c.p_holm),
                    c.verdict,
                ]
        cells.append(row)
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    numeric = {i for i in range(2, len(head))} - {
        i for i, h in enumerate(head) if h in ("verdict", "95 % interval")
    }
    for row in cells:
        parts = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"
