"""Timelines that explain the verdict: code names, notes, repeated frames, broken axes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from simrig.report.folder import sessions_to_draw, write_report
from simrig.report.plots import _note_lines, _repeats, _time_segments, _title, session_timeline_png
from simrig.scenarios import load_scenario
from simrig.sim.results import ExpectationResult
from simrig.sim.runner import run_scenario

from .builders import PILE_B, key
from .conftest import png_size

T = datetime(2019, 11, 25, 12, 0)


def test_hours_of_quiet_break_the_time_axis_around_the_gap() -> None:
    charge = [T + timedelta(minutes=m) for m in (18, 19, 25, 31, 45)]
    late = [T + timedelta(hours=10, minutes=53), T + timedelta(hours=12, minutes=10)]
    start, end = T + timedelta(minutes=14), T + timedelta(hours=12, minutes=12)
    (a1, b1), (a2, b2) = _time_segments(start, end, charge + late)
    assert (a1, b2) == (start, end)
    assert b1 == charge[-1] + timedelta(minutes=2) and a2 == late[0] - timedelta(minutes=2)


def test_a_short_or_busy_session_keeps_one_axis() -> None:
    times = [T + timedelta(minutes=m) for m in range(0, 40, 5)]
    assert _time_segments(T, T + timedelta(minutes=40), times) == [(T, T + timedelta(minutes=40))]
    busy = [T + timedelta(minutes=m) for m in range(0, 300, 20)]
    end = T + timedelta(hours=5)
    assert _time_segments(T, end, busy) == [(T, end)]


def test_a_stop_sent_three_times_is_marked_x3() -> None:
    stops = [T, T + timedelta(seconds=10), T + timedelta(seconds=20), T + timedelta(hours=1)]
    assert _repeats(stops, timedelta(seconds=30)) == [(T, 3)]
    assert _repeats(stops[:1], timedelta(seconds=30)) == []


def test_title_names_the_codes_and_notes_explain_them(result_a) -> None:
    lost = next(v for v in result_a.verdicts if v.codes == {1})
    title = _title(result_a, lost)
    assert "codes 1: bill lost" in title and "sinexcel-dc@2090104" in title
    notes = _note_lines(result_a, lost)
    assert any(note in line for note in lost.notes for line in notes)
    assert any(line.startswith("• expectation met") for line in notes)


def test_a_session_that_failed_its_expectation_gets_a_png(result_b, tmp_path: Path) -> None:
    clean = result_b.verdicts[0]
    assert not clean.codes and not result_b.anomalous
    failed = replace(
        result_b, expectations=[ExpectationResult(key(PILE_B, 1), False, "codes=[1]", "none")]
    )
    assert sessions_to_draw(failed) == [clean]
    write_report([failed], tmp_path, capture="none")
    pngs = list((tmp_path / "sessions").rglob("*.png"))
    assert [p.stem for p in pngs] == [clean.key.replace(":", "-")]


def test_the_late_bill_incident_draws_with_a_broken_axis(tmp_path: Path) -> None:
    result = run_scenario(load_scenario("igo_case#29"))
    [verdict] = result.anomalous
    path = session_timeline_png(result, verdict, tmp_path / "igo.png")
    width, height = png_size(path)
    assert width == 1170 and height > 855  # 13 in at 90 dpi; taller: the notes underneath
