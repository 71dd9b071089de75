"""``report.html``: one self-contained page per report, what a QA engineer attaches to a ticket.

The page holds the summary (runs, anomalies per firmware and code), per run the
diagnostics, the session table (the same cells as the console's), the backend deviations
and one section per session: its verdict with the code names, the oracle's notes, false
notifications, the expectation, the timeline PNG embedded as a ``data:`` URI, and the
evidence frames (hex and decoded). Every session row links to its section and back. It
needs nothing beside it (no script, font or stylesheet fetched); links to ``results.json``,
``summary.txt`` and the capture files are relative, for when the folder travels whole.
Rendered with Jinja2 (autoescaped): text from frames and files is never markup.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from simrig import __version__
from simrig.domain.anomaly import combo_label
from simrig.oracle.judge import SessionVerdict
from simrig.protocol.ykc import Frame, Framer
from simrig.protocol.ykc.jsonview import json_value
from simrig.sim.results import INTERRUPTED, RunResult

from .backend import deviations_to_dict, diagnostic_lines
from .stats import label_description, ordered_labels, profile_of, stats_by_profile
from .tables import expectations_for, run_label, session_table

__all__ = ["HTML_NAME", "session_anchor", "write_html_report"]

HTML_NAME = "report.html"

_EXIT_MEANINGS = {
    0: "every expectation met",
    1: "an expectation failed",
    3: "the backend could not be tested",
    4: "interrupted: a partial report",
}


def session_anchor(run_index: int, key: str) -> str:
    """The id of a session's section: ``run-1-<pile>-<gun>-<n>``."""
    return f"run-{run_index + 1}-{key.replace(':', '-')}"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _decoded(hex_text: str) -> str:
    """A frame's name and fields, one per line (or why it does not decode)."""
    try:
        data = bytes.fromhex(hex_text)
    except ValueError:
        return "(not hex)"
    framer = Framer(tolerant=True)
    found = [*framer.feed(data), *framer.close()]
    lines = []
    for item in found:
        if isinstance(item, Frame):
            lines.append(f"0x{item.type:02X} {item.name} seq={item.seq:04x}")
            lines += [f"  {k:<24} {json_value(v)}" for k, v in item.message.as_dict().items()]
        else:
            lines.append(f"error: {item}")
    return "\n".join(lines)


def notices_of(verdict: SessionVerdict) -> tuple[Any, ...]:
    return verdict.false_notifications


def _status(result: RunResult) -> str:
    if result.stopped_early == INTERRUPTED:
        return "PARTIAL"
    return "PASS" if result.passed else "FAIL"


def _headline(verdict: SessionVerdict) -> str:
    if not verdict.judged:
        return f"not judged ({verdict.not_judged})"
    if not verdict.codes:
        return "no anomaly"
    label = combo_label(verdict.codes)
    return f"codes {label}: {label_description(label)}"


def _truth(verdict: SessionVerdict) -> str:
    t = verdict.truth
    span = (
        f"charged {t.charge_start:%H:%M:%S}–{t.charge_end:%H:%M:%S}"
        if t.charge_start and t.charge_end
        else "no complete charge"
    )
    unplug = f"{t.unplug_at:%Y-%m-%d %H:%M:%S}" if t.unplug_at else "never"
    return (
        f"plugged {t.plug_at:%Y-%m-%d %H:%M:%S}, {span}, {t.energy_kwh:.2f} kWh, unplugged {unplug}"
    )


def _run(
    index: int, result: RunResult, pngs: Mapping[tuple[int, str], Path], out: Path
) -> dict[str, Any]:
    table = session_table(result)
    columns = [" ".join(str(c.header).split()) for c in table.columns]
    cells = [[str(getattr(cell, "plain", cell)) for cell in c.cells] for c in table.columns]
    verdicts = {v.key: v for v in result.verdicts}
    sessions = []
    for row in range(table.row_count):
        row_cells = [col[row] for col in cells]
        key = row_cells[0]
        verdict = verdicts.get(key)
        session: dict[str, Any] = {"cells": row_cells, "key": key, "anchor": None}
        if verdict is not None:
            png = pngs.get((index, key))
            session.update(
                anchor=session_anchor(index, key),
                headline=_headline(verdict),
                profile=profile_of(result, verdict),
                truth=_truth(verdict),
                notes=list(verdict.notes),
                notices=[
                    f"{n.kind} at {n.at:%Y-%m-%d %H:%M:%S}" for n in verdict.false_notifications
                ],
                expectations=expectations_for(result, key),
                png=_data_uri(png) if png is not None else None,
                png_link=png.relative_to(out).as_posix() if png is not None else None,
                evidence=[{"hex": h, "decoded": _decoded(h)} for h in verdict.evidence],
            )
        sessions.append(session)
    deviations = [
        {"pile": pile, "kind": kind, "count": count, **first}
        for pile, entry in deviations_to_dict(result).items()
        for kind, count in entry["counts"].items()
        for first in [next(i for i in entry["items"] if i["kind"] == kind)]
    ]
    checked = len(result.expectations)
    failed = len([e for e in result.expectations if not e.passed])
    status = _status(result)
    return {
        "anchor": f"run-{index + 1}",
        "label": run_label(result),
        "backend": result.backend,
        "seed": result.seed,
        "status": status,
        "status_class": status,
        "anomalous": len(result.anomalous),
        "expectations": f"{checked - failed} of {checked} met" if checked else "none checked",
        "diagnostics": [line.plain for line in diagnostic_lines(result)],
        "columns": columns,
        "sessions": sessions,
        "deviations": deviations,
    }


def _firmware_rows(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    rows = []
    for stats in stats_by_profile(results):
        labels = ["any", *ordered_labels(stats.by_label)]
        for i, label in enumerate(labels):
            rows.append(
                {
                    "profile": stats.profile if i == 0 else "",
                    "sessions": stats.sessions if i == 0 else "",
                    "label": label,
                    "meaning": "sessions with any anomaly"
                    if label == "any"
                    else label_description(label),
                    "count": stats.anomalous if label == "any" else stats.count(label),
                    "rate": f"{stats.rate(label):.2f}",
                }
            )
    return rows


def write_html_report(
    results: Sequence[RunResult],
    out: Path,
    pngs: Mapping[tuple[int, str], Path],
    *,
    exit_code: int,
    banner: str | None = None,
) -> Path:
    """Write ``out/report.html`` for ``results``; ``pngs`` maps (run index, session key) to
    the timeline drawn for it (embedded in the page)."""
    env = Environment(
        loader=PackageLoader("simrig.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    runs = [_run(i, r, pngs, out) for i, r in enumerate(results)]
    status = "PARTIAL" if banner else ("PASS" if all(r.passed for r in results) else "FAIL")
    names = ["results.json", "summary.txt", "compare.png", "capture.pcapng", "frames.jsonl"]
    links = [{"href": "#summary", "text": "summary"}]
    links += [{"href": n, "text": n} for n in names if (out / n).is_file()]
    title = run_label(results[0]) if len(results) == 1 else f"{len(results)} runs"
    html = env.get_template("report.html.j2").render(
        title=title,
        version=__version__,
        status=status,
        status_class=status,
        banner=banner,
        exit_code=exit_code,
        exit_meaning=_EXIT_MEANINGS.get(exit_code, ""),
        links=links,
        runs=runs,
        firmware=_firmware_rows(results),
    )
    path = out / HTML_NAME
    path.write_text(html, encoding="utf-8")
    return path
