"""The backend's side of a real-time run: diagnostics and deviations, per pile (issue 11).

Diagnostics come first (could the piles talk to the backend at all?), then the session
verdicts, then the backend's deviations from the spec — grouped per pile and kind, with
the first occurrence as the example (the full list, capped, goes to ``results.json``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.table import Table
from rich.text import Text

from simrig.oracle.deviations import BackendDeviation
from simrig.sim.results import RunResult

__all__ = [
    "MAX_DEVIATIONS_JSON",
    "deviations_table",
    "deviations_to_dict",
    "diagnostic_lines",
    "diagnostics_to_dict",
]

#: deviations listed per pile in results.json (the counts per kind are always complete)
MAX_DEVIATIONS_JSON = 50


def diagnostic_lines(result: RunResult) -> list[Text]:
    """One line per pile with trouble, and the run's backend status when it is not ok."""
    lines = []
    if not result.backend_ok:
        lines.append(
            Text(
                f"backend {result.backend_status}: sessions not judged"
                + (f" — run stopped early: {result.stopped_early}" if result.stopped_early else ""),
                style="bold red",
            )
        )
    for d in result.diagnostics:
        if d.problems or d.status != "ok":
            style = "yellow" if d.status == "degraded" else "red"
            lines.append(Text(d.line(), style=style))
    lines += [Text(line, style="yellow") for line in result.rig_late]
    return lines


def _grouped(devs: list[BackendDeviation]) -> list[tuple[str, int, BackendDeviation]]:
    counts = Counter(d.kind for d in devs)
    first: dict[str, BackendDeviation] = {}
    for d in devs:
        first.setdefault(d.kind, d)
    return [(kind, counts[kind], first[kind]) for kind in first]


def deviations_table(result: RunResult) -> Table | None:
    """Per pile and kind: how many replies broke the spec, and the first one."""
    if not result.deviations:
        return None
    table = Table(
        title=f"Backend deviations · {result.scenario_name} · backend {result.backend}",
        title_justify="left",
    )
    for column in ("Pile", "Kind", "Count", "First", "Example"):
        table.add_column(column, justify="right" if column == "Count" else "left")
    for pile, devs in result.deviations.items():
        for i, (kind, count, d) in enumerate(_grouped(devs)):
            table.add_row(pile if i == 0 else "", kind, str(count), f"{d.at:%H:%M:%S}", d.detail)
    return table


def deviations_to_dict(result: RunResult) -> dict[str, Any]:
    """``{pile: {"counts": {kind: n}, "items": [first MAX_DEVIATIONS_JSON deviations]}}``."""
    return {
        pile: {
            "counts": dict(Counter(d.kind for d in devs)),
            "items": [
                {
                    "at": d.at.isoformat(),
                    "kind": d.kind,
                    "detail": d.detail,
                    "frame_hex": d.frame_hex,
                }
                for d in devs[:MAX_DEVIATIONS_JSON]
            ],
        }
        for pile, devs in result.deviations.items()
    }


def diagnostics_to_dict(result: RunResult) -> list[dict[str, Any]]:
    return [
        {
            "pile": d.pile_no,
            "status": d.status,
            "line": d.line(),
            "problems": [
                {
                    "kind": p.kind,
                    "detail": p.detail,
                    "count": p.count,
                    "first_at": p.first_at
                    if isinstance(p.first_at, float)
                    else p.first_at.isoformat(),
                    "evidence": list(p.evidence),
                }
                for p in d.problems
            ],
        }
        for d in result.diagnostics
    ]
