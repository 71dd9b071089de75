"""Clean endings: a partial report says so; a report folder holds one run's files only."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from simrig.exit_codes import ExitCode
from simrig.report.folder import exit_code, write_report
from simrig.sim.results import INTERRUPTED
from simrig.sim.runner import _cut_short


def test_an_interrupted_run_is_a_partial_report(result_a, tmp_path: Path) -> None:
    cut = dataclasses.replace(result_a, stopped_early=INTERRUPTED, expectations=[])
    write_report([cut], tmp_path, capture="none", interrupted=True)
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["partial"] is True and document["passed"] is False
    assert document["runs"][0]["partial"] is True
    summary = (tmp_path / "summary.txt").read_text()
    assert summary.startswith("PARTIAL REPORT: the run was interrupted (Ctrl-C or SIGTERM)")
    assert "PARTIAL (interrupted)" in summary
    assert exit_code([cut]) == ExitCode.INTERRUPTED


def test_a_finished_run_is_not_partial(result_a, tmp_path: Path) -> None:
    write_report([result_a], tmp_path, capture="none")
    assert json.loads((tmp_path / "results.json").read_text())["partial"] is False
    assert "PARTIAL" not in (tmp_path / "summary.txt").read_text()


def test_a_session_the_interruption_may_have_cut_is_not_judged(result_a) -> None:
    verdicts = {v.key: v for v in result_a.verdicts}
    billed = verdicts["32010200000001:1:1"]  # unplugged, bill acked: judged as it was
    assert _cut_short(billed) == billed
    lost = verdicts["32010200000001:1:2"]  # code 1: no bill (yet) — it might still come
    assert lost.codes == {1}
    cut = _cut_short(lost)
    assert not cut.judged and not cut.codes and not cut.false_notifications
    assert "interrupted" in cut.not_judged


def test_a_run_clears_its_own_previous_outputs_only(result_a, result_b, tmp_path: Path) -> None:
    write_report([result_a], tmp_path, capture="all")
    old_pngs = sorted((tmp_path / "sessions").rglob("*.png"))
    assert old_pngs and (tmp_path / "capture.pcapng").is_file()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "sessions" / "mine.txt").write_text("mine too")
    write_report([result_b], tmp_path, capture="none")  # a clean run: no PNG, no capture
    assert not any(p.exists() for p in old_pngs)
    assert not (tmp_path / "capture.pcapng").exists() and not (tmp_path / "frames.jsonl").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "sessions" / "mine.txt").read_text() == "mine too"
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert [r["scenario"] for r in runs] == [result_b.scenario_name]
