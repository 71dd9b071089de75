"""The A/B chart: per anomaly label (code names spelled out), each compared profile's
rate per 1,000 sessions as a dot with its Wilson 95 % interval; labels where the
difference to the first profile is significant are marked. Only the profiles compared
appear, each with its session count."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .ab import ab_rows
from .stats import ProfileStats

__all__ = ["ab_chart_png"]


def ab_chart_png(stats: Sequence[ProfileStats], path: str | Path, title: str = "") -> Path:
    """Write the chart; labels shown: every label seen in any profile, and ``any``."""
    rows = [r for r in ab_rows(stats) if any(r.counts) or r.label == "any"]
    height = max(3.0, 0.5 * len(rows) * max(1, len(stats)) ** 0.5 + 1.8)
    fig = Figure(figsize=(11, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    try:
        n = max(1, len(stats))
        step = 0.7 / n
        for i, s in enumerate(stats):
            ys = [k - 0.35 + step * (i + 0.5) for k in range(len(rows))]
            rates, low, high = [], [], []
            for r in rows:
                rate = 1000 * r.counts[i] / s.sessions if s.sessions else 0.0
                lo, hi = r.intervals[i]
                rates.append(rate)
                low.append(rate - 1000 * lo)
                high.append(1000 * hi - rate)
            ax.errorbar(
                rates, ys, xerr=[low, high], fmt="o", capsize=3, markersize=5,
                label=f"{s.profile} ({s.sessions:,} sessions)",
            )  # fmt: skip
        names = []
        for r in rows:
            mark = ""
            if any(c is not None and c.significant for c in r.comparisons):
                mark = "  *"
            names.append(f"{r.label}  {r.meaning}{mark}")
        ax.set_yticks(range(len(rows)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("sessions per 1,000 (dot) with Wilson 95 % interval")
        ax.set_xlim(left=0)
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(title or "Firmware A/B  (* significant vs the first profile, Holm)")
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        fig.clear()
    return path
