"""Rich tables: one row per session, a summary per firmware and code, and the A/B table.

All return :class:`rich.table.Table` renderables; print them on any console, or render to
plain text with ``Console(record=True, width=160)`` (see :mod:`simrig.report.folder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.table import Table
from rich.text import Text

from simrig.domain.anomaly import combo_label
from simrig.oracle.judge import SessionVerdict
from simrig.sim.results import INTERRUPTED, ExpectationResult, RunResult

from .stats import ProfileStats, label_description, ordered_labels, profile_of, stats_by_profile

__all__ = [
    "billed_kwh",
    "compare_table",
    "expectations_for",
    "run_label",
    "session_table",
    "summary_table",
]

DASH = "—"


def _clock(at: datetime | None, ref: datetime | None = None) -> str:
    """``HH:MM:SS``; with the date when it is not ``ref``'s date."""
    if at is None:
        return DASH
    if ref is not None and at.date() != ref.date():
        return at.strftime("%Y-%m-%d %H:%M:%S")
    return at.strftime("%H:%M:%S")


def _yuan(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def billed_kwh(verdict: SessionVerdict) -> float | None:
    """Energy billed over the plug-in: platform bills, else the pile's bills; None if no bill."""
    values = []
    for order in verdict.orders:
        bill = order.platform_bill or order.device_bill
        if bill is not None:
            values.append(bill.energy_kwh)
    return sum(values) if values else None


def expectations_for(result: RunResult, key: str) -> list[ExpectationResult]:
    return [e for e in result.expectations if e.key == key]


def _expect_cell(expectations: list[ExpectationResult]) -> Text:
    if not expectations:
        return Text(DASH, style="dim")
    if all(e.passed for e in expectations):
        return Text("pass", style="green")
    failed = [e for e in expectations if not e.passed]
    detail = "; ".join(f"want {e.expected}, got {e.actual}" for e in failed)
    return Text(f"FAIL ({detail})", style="bold red")


def _money_cell(verdict: SessionVerdict) -> Text:
    over = verdict.overcharge_yuan
    text = f"{_yuan(verdict.charged_yuan)} / {_yuan(verdict.fair_yuan)}"
    if over is None:
        return Text(text)
    style = "red" if over > 0.005 else ("yellow" if over < -0.005 else "")
    return Text(f"{text} ({over:+.2f})", style=style)


def _codes_cell(verdict: SessionVerdict, codes: str) -> Text:
    """The codes; "not judged" when the backend could not be tested; "?" when a bill's fate
    is unknown from the frames (a 0x40 result outside the spec)."""
    if not verdict.judged:
        return Text(f"not judged ({verdict.not_judged})", style="bold yellow")
    unknown = any(o.bill_state == "unknown_result" for o in verdict.orders)
    if unknown:
        return Text(f"{codes or DASH} (bill: unknown ack)", style="yellow")
    return Text(codes or DASH, style="bold red" if codes else "dim")


def run_label(result: RunResult) -> str:
    """``name [case]``, or the name alone when the scenario has no case id (or is the case)."""
    if not result.case or result.case == result.scenario_name:
        return result.scenario_name
    return f"{result.scenario_name} [{result.case}]"


def session_table(result: RunResult) -> Table:
    """One row per session (plug-in) of a run, with its codes and expectation outcome."""
    status = "PASS" if result.passed else "FAIL"
    if result.stopped_early == INTERRUPTED:
        status = "PARTIAL (interrupted)"
    table = Table(
        title=Text(
            f"{run_label(result)} · backend {result.backend} · seed {result.seed} · {status}",
            style="bold" if result.passed else "bold red",
        ),
        title_justify="left",
    )
    table.add_column("Session")
    table.add_column("Profile")
    table.add_column("Truth charge")
    table.add_column("True kWh", justify="right")
    table.add_column("Billed kWh", justify="right")
    table.add_column("Charged / fair ¥ (over)", justify="right")
    table.add_column("Codes")
    table.add_column("False notices", justify="right")
    table.add_column("Expect")
    keys = set()
    for verdict in result.verdicts:
        truth = verdict.truth
        keys.add(verdict.key)
        ref = truth.plug_at
        span = f"{_clock(truth.charge_start, ref)}–{_clock(truth.charge_end, ref)}"
        billed = billed_kwh(verdict)
        codes = combo_label(verdict.codes)
        table.add_row(
            Text(verdict.key),
            Text(profile_of(result, verdict)),
            span if truth.charge_start else "(no charge)",
            f"{truth.energy_kwh:.2f}",
            DASH if billed is None else f"{billed:.2f}",
            _money_cell(verdict),
            _codes_cell(verdict, codes),
            str(len(verdict.false_notifications)),
            _expect_cell(expectations_for(result, verdict.key)),
        )
    # expectations about sessions that never happened
    for key in dict.fromkeys(e.key for e in result.expectations if e.key not in keys):
        table.add_row(
            Text(key),
            DASH,
            "(no such session)",
            DASH,
            DASH,
            DASH,
            DASH,
            DASH,
            _expect_cell(expectations_for(result, key)),
        )
    return table


def summary_table(results: Sequence[RunResult]) -> Table:
    """Per firmware profile: sessions, then per anomaly label the count and rate per 1,000.

    Shaped like field-incidents.md "Lost-bill rates by firmware": ``2090104: 1451 sessions,
    162 × 1, 1 × 2, 1 × 11``; each session is counted once under its combo label.
    """
    table = Table(title="Anomalies per firmware and code", title_justify="left")
    table.add_column("Firmware")
    table.add_column("Sessions", justify="right")
    table.add_column("Code")
    table.add_column("Meaning")
    table.add_column("Count", justify="right")
    table.add_column("per 1,000", justify="right")
    for stats in stats_by_profile(results):
        rows: list[tuple[str, str, int, float]] = [
            ("any", "sessions with any anomaly", stats.anomalous, stats.rate("any"))
        ]
        for label in ordered_labels(stats.by_label):
            rows.append((label, label_description(label), stats.count(label), stats.rate(label)))
        if stats.sessions_with_false_notice:
            rate = 1000.0 * stats.sessions_with_false_notice / stats.sessions
            rows.append(
                ("notice", "false charge-finished notices", stats.sessions_with_false_notice, rate)
            )
        for i, (label, meaning, count, rate) in enumerate(rows):
            table.add_row(
                Text(stats.profile) if i == 0 else "",
                str(stats.sessions) if i == 0 else "",
                label,
                meaning,
                str(count),
                f"{rate:.2f}",
                end_section=i == len(rows) - 1,
            )
    return table


def _cell(stats: ProfileStats, label: str) -> str:
    return f"{stats.count(label)}  ({stats.rate(label):.2f})"


def compare_table(rows: Sequence[ProfileStats], title: str = "Firmware A/B") -> Table:
    """A/B table: one row per code 1–11 and per combo seen, one column per profile.

    Each cell is ``count  (rate per 1,000 sessions)``; the last rows are all anomalous
    sessions, false notices and the session count.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("Code")
    table.add_column("Meaning")
    for stats in rows:
        table.add_column(Text(f"{stats.profile}\nn (per 1,000)"), justify="right")
    labels = ordered_labels((lbl for s in rows for lbl in s.by_label), all_single=True)
    for label in labels:
        table.add_row(label, label_description(label), *(_cell(s, label) for s in rows))
    table.add_section()
    table.add_row("any", "sessions with any anomaly", *(_cell(s, "any") for s in rows))
    table.add_row(
        "notice",
        "sessions with a false charge-finished notice",
        *(
            f"{s.sessions_with_false_notice}  "
            f"({(1000.0 * s.sessions_with_false_notice / s.sessions) if s.sessions else 0:.2f})"
            for s in rows
        ),
    )
    table.add_row("sessions", "sessions judged", *(str(s.sessions) for s in rows), style="bold")
    return table
