"""``simrig decode --file`` reads every capture suffix; the report folder holds the capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.capture.formats import WRITERS, read_chunks, run_items, write_capture
from simrig.cli import app
from simrig.protocol.ykc import Framer
from simrig.report import write_report
from simrig.sim.results import RunResult


def _frames(result: RunResult) -> list[tuple[str, str, str]]:
    """(pile, direction, hex) of every frame the run's chunks hold, per link and way."""
    framers: dict[tuple[str, str], Framer] = {}
    out = []
    for c in result.chunks:
        framer = framers.setdefault((c.pile_no, c.direction), Framer(tolerant=True))
        out += [(c.pile_no, c.direction, f.raw.hex()) for f in framer.feed(c.data)]
    return out


@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_decode_reads_each_suffix(zpd12: RunResult, tmp_path: Path, suffix: str) -> None:
    path = write_capture(
        tmp_path / f"run{suffix}",
        run_items(zpd12.chunks, zpd12.events, zpd12.wall),
        list(zpd12.profiles),
    )
    done = CliRunner().invoke(app, ["decode", "--json", "--file", str(path)])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.output.splitlines()]
    expected = _frames(zpd12)
    assert len(rows) == len(expected)
    names = {r["name"] for r in rows}
    assert {"login", "transaction_record", "realtime_data"} <= names
    if suffix != ".hex":
        assert [(r["pile"], r["direction"]) for r in rows] == [(p, d) for p, d, _ in expected]
        assert rows[0]["at"] == zpd12.chunks[0].at.isoformat(timespec="microseconds")


def test_report_folder_holds_the_capture(zpd12: RunResult, tmp_path: Path) -> None:
    out = write_report([zpd12], tmp_path / "one")
    assert read_chunks(out / "capture.pcapng") == zpd12.chunks
    lines = (out / "frames.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == len(_frames(zpd12))
    assert {k: first[k] for k in ("pile", "dir", "type", "name", "seq")} == {
        "pile": zpd12.chunks[0].pile_no,
        "dir": "up",
        "type": 1,
        "name": "login",
        "seq": first["seq"],
    }
    both = write_report([zpd12, zpd12], tmp_path / "two")
    assert (both / "captures" / "zpd_case#12" / "capture.pcapng").is_file()
    assert (both / "captures" / "zpd_case#12-2" / "frames.jsonl").is_file()
    none = write_report([zpd12], tmp_path / "none", capture="none")
    assert not (none / "capture.pcapng").exists()
    with pytest.raises(ValueError, match="capture"):
        write_report([zpd12], tmp_path / "bad", capture="some")


def test_run_cli_capture_option(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["run", "igo_case#29", "--out", str(tmp_path / "a")])
    assert (tmp_path / "a" / "capture.pcapng").is_file(), done.output
    assert (tmp_path / "a" / "frames.jsonl").is_file()
    runner.invoke(app, ["run", "igo_case#29", "--out", str(tmp_path / "b"), "--capture", "none"])
    assert (tmp_path / "b" / "results.json").is_file()
    assert not (tmp_path / "b" / "capture.pcapng").exists()
    bad = runner.invoke(app, ["run", "igo_case#29", "--capture", "most"])
    assert bad.exit_code == 2
