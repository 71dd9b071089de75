"""The report folder and the console report."""

from dataclasses import replace

from rich.console import Console

from simrig.report import exit_code, load_results_json, print_report, write_report
from simrig.report.folder import session_png_path

from .builders import PILE_A
from .conftest import png_size


def test_write_report_folder(result_a, result_b, tmp_path):
    out = write_report([result_a, result_b], tmp_path / "report")
    assert out == tmp_path / "report"
    assert len(load_results_json(out / "results.json")) == 2
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    assert "\x1b[" not in summary  # plain text
    assert "zshy_case23_repeated_stop [zshy_case#23]" in summary
    assert "Anomalies per firmware and code" in summary
    assert "Firmware A/B" in summary  # two profiles: the A/B table too
    assert "2 expectation(s) failed" in summary
    assert max(len(line) for line in summary.splitlines()) <= 160
    pngs = sorted(p.relative_to(out).as_posix() for p in (out / "sessions").rglob("*.png"))
    assert pngs == [
        f"sessions/zshy_case23_repeated_stop/{PILE_A}-1-2.png",
        f"sessions/zshy_case23_repeated_stop/{PILE_A}-1-3.png",
    ]
    for png in (out / "sessions").rglob("*.png"):
        png_size(png)
    assert png_size(out / "compare.png")[1] == 500
    assert session_png_path(out, "igo case/29", f"{PILE_A}:1:2") == (
        out / "sessions" / "igo_case_29" / f"{PILE_A}-1-2.png"
    )


def test_one_profile_no_compare_and_repeated_scenario(result_a, tmp_path):
    again = replace(result_a, case="zshy_case#23 seed 8")
    out = write_report([result_a, again], tmp_path)
    assert not (out / "compare.png").exists()
    assert "Firmware A/B" not in (out / "summary.txt").read_text(encoding="utf-8")
    assert len(list((out / "sessions" / "zshy_case23_repeated_stop").glob("*.png"))) == 2
    assert len(list((out / "sessions" / "zshy_case23_repeated_stop-2").glob("*.png"))) == 2


def test_clean_run_no_pngs(result_b, tmp_path):
    out = write_report([result_b], tmp_path)
    assert not (out / "sessions").exists()
    assert "all 2 expectation(s) passed" in (out / "summary.txt").read_text(encoding="utf-8")


def test_print_report_and_exit_code(result_a, result_b):
    console = Console(record=True, width=160, color_system=None)
    print_report([result_b], console)
    text = console.export_text()
    assert "zpd_case10_clean [zpd_case#10]" in text and "all 2 expectation(s) passed" in text
    assert exit_code([result_b]) == 0
    assert exit_code([result_a, result_b]) == 1
    assert exit_code([]) == 0


def test_max_timelines_and_progress(result_a, result_b, tmp_path):
    written = []
    out = write_report([result_a, result_b], tmp_path, max_timelines=1, on_png=written.append)
    assert [p.name for p in written] == ["compare.png", f"{PILE_A}-1-2.png"]
    assert all(p.exists() for p in written)
    summary = (out / "summary.txt").read_text(encoding="utf-8")
    assert "1 anomalous session(s) without a timeline" in summary
