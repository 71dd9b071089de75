"""Tables and progress for CI logs: stacked, never cut; a status line every N seconds."""

from __future__ import annotations

import io
import re

from rich.console import Console

from simrig.domain.anomaly import combo_label
from simrig.report.folder import print_report
from simrig.report.progress import StatusLine, progress
from simrig.report.tables import session_table
from simrig.report.text import print_table, table_fits


def _console(width: int) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None, record=True)


def _identifiers(result) -> list[str]:
    ids = [result.scenario_name, result.case, *result.profiles.values(), *result.profiles]
    for v in result.verdicts:
        ids.append(v.key)
        if v.codes:
            ids.append(combo_label(v.codes))
    return ids


def test_a_table_too_wide_is_stacked_and_no_identifier_is_cut(result_a, result_b):
    console = _console(80)
    print_report([result_a, result_b], console, plain=True)
    text = console.export_text()
    assert "…" not in text
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    for ident in _identifiers(result_a) + _identifiers(result_b):
        assert any(
            re.search(rf"(^|[\s:(\[]){re.escape(ident)}($|[\s·):\]])", ln) for ln in lines
        ), ident
    # the A/B header names both firmware versions in full
    assert "sinexcel-dc@2090104" in text and "sinexcel-dc@2090404" in text


def test_a_table_that_fits_prints_as_a_table(result_a):
    table = session_table(result_a)
    console = _console(220)
    assert table_fits(console, table)
    print_table(console, table, plain=True)
    text = console.export_text()
    assert "| Session" in text and "+---" in text
    assert not table_fits(_console(80), session_table(result_a))


def test_status_line_every_n_seconds_with_markup_kept():
    now = [0.0]
    console = _console(80)
    status = StatusLine(console, every_s=10.0, clock=lambda: now[0])
    assert not status.maybe("early")
    now[0] = 10.0
    assert status.maybe(lambda: "needs a user from [[users]]")
    now[0] = 15.0
    assert not status.maybe("too soon")
    now[0] = 20.5
    assert status.maybe("second")
    assert console.export_text().splitlines() == ["needs a user from [[users]]", "second"]


def test_progress_off_a_terminal_prints_status_lines_and_a_last_line():
    now = [0.0]
    console = _console(80)
    with progress(console, "igo_case#29", total=1.0, every_s=5.0, clock=lambda: now[0]) as bar:
        for step in range(1, 11):
            now[0] = step * 1.0
            bar.update(step / 10)
    assert console.export_text().splitlines() == [
        "igo_case#29:  50% · 5 s",
        "igo_case#29: 100% · 10 s",
        "igo_case#29: done · 10.0 s",
    ]
