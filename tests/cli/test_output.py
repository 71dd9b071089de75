"""What a person (and a CI log) sees: 80 columns, --format, errors kept whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from simrig.cli import app
from simrig.scenarios import library_path

runner = CliRunner()
BASIC = library_path("basic_card_session").read_text(encoding="utf-8")


def test_run_at_80_columns_off_a_terminal_cuts_nothing(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "basic_card_session", "--out", str(tmp_path)], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "…" not in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "basic_card_session · backend embedded · seed 1 · PASS" in out  # no "[]"
    assert "[]" not in out
    assert "55031412782305:1:1" in out and "generic-dc@1.0" in out
    assert "basic_card_session: done" in out  # the last status line off a terminal
    summary = (tmp_path / "summary.txt").read_text(encoding="utf-8")
    assert "…" not in summary and "basic_card_session · backend" in summary


def test_format_json_prints_the_results_document(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "basic_card_session", "--out", str(tmp_path), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["passed"] is True and document["report"] == str(tmp_path)
    assert document == {
        **json.loads((tmp_path / "results.json").read_text()),
        "report": str(tmp_path),
    }


def test_unknown_format_is_bad_input(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "basic_card_session", "--format", "xml"])
    assert result.exit_code == 2
    assert "--format xml: expected plain, rich or json" in result.output


def _run_file(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = tmp_path / "case.toml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return path, lines[0]


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


def test_error_brackets_survive_and_name_file_and_line(tmp_path: Path) -> None:
    text = BASIC.replace('user = "alice"', 'user = "bob"')
    path, line = _run_file(tmp_path, text)
    where = _line_of(text, 'user = "bob"')
    assert line == f"error: {path}:{where}: timeline[1].user: card needs a user from [[users]]"


def test_unknown_profile_names_file_line_and_field(tmp_path: Path) -> None:
    text = BASIC.replace('profile = "generic-dc@1.0"', 'profile = "generic-dc@9.9"')
    path, line = _run_file(tmp_path, text)
    where = _line_of(text, "generic-dc@9.9")
    assert line.startswith(f"error: {path}:{where}: piles[0].profile: generic-dc@9.9: unknown")


def test_bad_quirk_parameter_names_file_line_and_field(tmp_path: Path) -> None:
    text = BASIC.replace(
        'profile = "generic-dc@1.0"',
        'profile = "generic-dc@1.0"\nquirks = { repeated_stop_loses_bill = { min_stops = "x" } }',
    )
    path, line = _run_file(tmp_path, text)
    where = _line_of(text, "quirks =")
    assert line == (
        f"error: {path}:{where}: piles[0].quirks.repeated_stop_loses_bill.min_stops: "
        "must be a number"
    )


def test_a_bad_option_is_a_plain_error_in_a_log() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "simrig", "run", "basic_card_session", "--speed", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "40", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert "╭" not in proc.stderr and "│" not in proc.stderr
    assert "Error: Invalid value for '--speed'" in proc.stderr


def test_unknown_platform_rule_names_file_line_and_field(tmp_path: Path) -> None:
    text = BASIC.replace("[[piles]]", "[platform]\nbalance_stopp = true\n\n[[piles]]", 1)
    path, line = _run_file(tmp_path, text)
    where = _line_of(text, "balance_stopp")
    assert line.startswith(f"error: {path}:{where}: platform.balance_stopp: unknown rule (known:")


def test_bad_tariff_names_file_line_and_field(tmp_path: Path) -> None:
    text = BASIC + '\n[tariff]\nmodel_no = "0100"\nrates = { peak = [1, 0.8] }\nperiods = []\n'
    path, line = _run_file(tmp_path, text)
    assert line == f"error: {path}:{_line_of(text, 'rates =')}: tariff.rates.sharp: missing"
