"""The A/B chart: per anomaly label (code names spelled out), each compared profile's
rate per 1,000 sessions as a dot with its Wilson 95 % interval and its count written
beside it; where a profile differs significantly from the first (Holm), the verdict and
adjusted p are written at its dot. Only the profiles compared appear, each with its
session count; long combo names wrap instead of squeezing the plot."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .ab import Comparison, LabelRow, ab_rows
from .png import save_png
from .stats import ProfileStats

__all__ = ["ab_chart_png"]

#: characters per line of a label's meaning on the y axis (a 6-code combo wraps)
MEANING_WIDTH = 30
#: characters per line of the title (a partial compare's says what it holds)
TITLE_WIDTH = 110
#: a profile's row height in inches
ROW_INCHES = 0.42


def ab_chart_png(stats: Sequence[ProfileStats], path: str | Path, title: str = "") -> Path:
    """Write the chart; labels shown: every label seen in any profile, and ``any``."""
    rows = [r for r in ab_rows(stats) if any(r.counts) or r.label == "any"]
    n = max(1, len(stats))
    label_lines = [len(_label_text(r).splitlines()) for r in rows]
    height = 1.9 + sum(max(n * ROW_INCHES, 0.2 * lines) for lines in label_lines)
    fig = Figure(figsize=(12, max(3.5, height)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    try:
        # each label a band as tall as its profiles' rows (or its wrapped name)
        sizes = [max(n * ROW_INCHES, 0.2 * lines) for lines in label_lines]
        tops = [sum(sizes[:k]) for k in range(len(rows))]
        right = max((1000 * r.intervals[i][1] for r in rows for i in range(len(stats))), default=1)
        for i, s in enumerate(stats):
            ys = [top + sizes[k] / 2 + (i - (n - 1) / 2) * ROW_INCHES for k, top in enumerate(tops)]
            rates = [1000 * r.counts[i] / s.sessions if s.sessions else 0.0 for r in rows]
            lows = [rate - 1000 * r.intervals[i][0] for rate, r in zip(rates, rows, strict=True)]
            highs = [1000 * r.intervals[i][1] - rate for rate, r in zip(rates, rows, strict=True)]
            bars = ax.errorbar(
                rates, ys, xerr=[lows, highs], fmt="o", capsize=4, markersize=7, elinewidth=2,
                label=f"{s.profile}  ({s.sessions:,} sessions)",
            )  # fmt: skip
            colour = bars[0].get_color()
            for r, rate, high, y in zip(rows, rates, highs, ys, strict=True):
                low, high_rate = (1000 * x for x in r.intervals[i])
                note = (
                    f"{r.counts[i]:,} of {s.sessions:,}: {rate:.1f} ‰ [{low:.1f}, {high_rate:.1f}]"
                )
                verdict = _verdict(r.comparisons[i - 1] if i else None, stats[0].profile)
                ax.annotate(
                    note + verdict, (rate + high, y), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize=10, color=colour,
                    fontweight="bold" if verdict else "normal",
                )  # fmt: skip
        for top in tops[1:]:
            ax.axhline(top, color="0.8", linewidth=0.8)
        ax.set_yticks([top + size / 2 for top, size in zip(tops, sizes, strict=True)])
        ax.set_yticklabels([_label_text(r) for r in rows], fontsize=10)
        ax.set_ylim(sum(sizes), 0)
        ax.set_xlim(0, right * 2.2)  # room for the counts and verdicts at the right
        ax.tick_params(axis="x", labelsize=10)
        ax.set_xlabel(
            "sessions per 1,000 (dot) with Wilson 95 % interval; at the right: count of "
            "sessions, rate [interval] in ‰",
            fontsize=10,
        )
        ax.grid(axis="x", alpha=0.3)
        heading = title or "Firmware A/B: anomalous sessions per anomaly code"
        lines = textwrap.wrap(heading, TITLE_WIDTH, break_on_hyphens=False)
        fig.suptitle("\n".join(lines), fontsize=13)
        ax.legend(
            fontsize=10, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(n, 2), frameon=False
        )
    except BaseException:
        fig.clear()
        raise
    return save_png(fig, path)


def _label_text(row: LabelRow) -> str:
    """``code 9+11`` over its meaning, wrapped."""
    code = "all codes" if row.label == "any" else f"code {row.label}"
    return "\n".join([code, *textwrap.wrap(row.meaning, MEANING_WIDTH, break_on_hyphens=False)])


def _verdict(comparison: Comparison | None, first: str) -> str:
    """``  lower than FIRST, p (Holm) 3e-05`` for a significant difference, else ''."""
    if comparison is None or not comparison.significant:
        return ""
    p = "<1e-6" if comparison.p_holm < 1e-6 else f"{comparison.p_holm:.2g}"
    return f"  {comparison.verdict} than {first}, p (Holm) {p}"
