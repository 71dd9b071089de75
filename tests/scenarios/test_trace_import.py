"""Field-log import (issue 12 item 5): status CSVs → runnable scenarios that replay the trail.

The trails are the ones the field cases quote: zpd_case#20 (Juneng 1→2 55/30/20 s, 2→3
37/22/19 s; Sinexcel 2→3 33/27 s) and zpd_case#12 (status 8 at 18:25:05, back at 18:38:57
with 7.31 kWh, 21.32 kWh at 18:39:41, bill 20191029180631796018).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.cli import app
from simrig.scenarios import load_scenario, parse_scenario
from simrig.scenarios.trace_import import (
    TraceError,
    derive_outages,
    derive_sessions,
    import_trace,
    import_trace_file,
    parse_trace,
)
from simrig.sim.runner import run_scenario

TRACES = Path(__file__).parent / "traces"
ZPD20 = TRACES / "zpd_case_20_juneng.csv"
ZPD12 = TRACES / "zpd_case_12_offline.csv"
MINUTE = timedelta(seconds=60)


def _close(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= MINUTE


@pytest.mark.parametrize("path", [ZPD20, ZPD12], ids=lambda p: p.stem)
def test_imported_run_reproduces_the_trail(path: Path, tmp_path: Path):
    """Plug, charge start, charge end, unplug within a minute of the log; energy ≈ the log's."""
    out = tmp_path / "scenario.toml"
    out.write_text(import_trace_file(path))
    result = run_scenario(load_scenario(out))
    sessions = derive_sessions(parse_trace(path.read_text(), source=str(path)))
    truths = {(v.truth.pile_no, v.truth.gun, v.truth.index): v.truth for v in result.verdicts}
    assert len(truths) == len(sessions)
    for s in sessions:
        truth = truths[(s.pile, s.gun, s.index)]
        assert _close(truth.plug_at, s.rows[0].time), (s.index, truth)
        assert s.charging is not None
        assert _close(truth.charge_start, s.charging.time), (s.index, truth)
        assert _close(truth.charge_end, s.charge_end), (s.index, truth)
        assert _close(truth.unplug_at, s.unplug_at), (s.index, truth)
        assert s.energy_kwh is not None
        assert truth.energy_kwh == pytest.approx(s.energy_kwh, rel=0.05)


def test_zpd_case_20_juneng_gaps_are_the_quoted_ones():
    sessions = derive_sessions(parse_trace(ZPD20.read_text()))
    juneng = [s for s in sessions if s.pile == "44030400030020"]
    gaps = [
        (
            (s.rows[1].time - s.rows[0].time).total_seconds(),
            (s.charging.time - s.rows[1].time).total_seconds(),  # type: ignore[union-attr]
        )
        for s in juneng
    ]
    assert gaps == [(55, 37), (30, 22), (20, 19)]
    assert [s.rows[0].status for s in juneng] == [1, 1, 1]
    # the Sinexcel pile has no state 1: its plug is the first 2, even after a stop's 2
    sinexcel = [s for s in sessions if s.pile == "44030400030021"]
    assert [s.plug_at.time().isoformat() for s in sinexcel] == ["15:00:00", "16:00:00"]


def test_zpd_case_12_outage_is_in_the_run_and_the_pile_charges_through():
    text = import_trace_file(ZPD12)
    scenario = parse_scenario(text, source=str(ZPD12))
    assert [n.outages for n in scenario.network] == [((1505.0, 2337.0),)]  # 18:25:05–18:38:57
    assert "charge_through_outage" in scenario.piles[0].quirks
    assert scenario.timeline[1].at == 391.0  # the card at the bill id's 18:06:31
    result = run_scenario(scenario)
    windows = result.offline["44030400030012"]
    assert any(abs(a - 1505) <= 60 and abs(b - 2337) <= 60 for a, b in windows), windows


def test_gaps_longer_than_gap_s_are_outages():
    text = ZPD12.read_text().replace(",8,", ",3,")  # no 8: only the silence tells
    rows = parse_trace(text)
    assert derive_outages(rows) == []
    (gap,) = derive_outages(rows, gap_s=700)  # the log's rows are ≤ 10 min apart otherwise
    assert (gap.start.time().isoformat(), gap.end.time().isoformat()) == ("18:25:05", "18:38:57")
    scenario = parse_scenario(import_trace(text, gap_s=700))
    assert scenario.network[0].outages == ((1505.0, 2337.0),)


def test_skeleton_leaves_the_expectations_to_the_user():
    text = import_trace_file(ZPD12, profile="sinexcel-dc@2090104", start="app")
    scenario = parse_scenario(text)
    assert scenario.expect == ()
    assert "# [[expect]]" in text and "# codes = []" in text
    assert scenario.piles[0].profile == "sinexcel-dc@2090104"
    assert [s.do for s in scenario.timeline] == ["plug", "app_start", "app_stop", "unplug"]
    assert scenario.meta.needs_backend_api
    uncommented = text.replace("# [[expect]]", "[[expect]]").replace("# pile =", "pile =")
    uncommented = uncommented.replace("# gun =", "gun =").replace("# session =", "session =")
    uncommented = uncommented.replace("# codes =", "codes =").replace("# billed =", "billed =")
    assert parse_scenario(uncommented).expect[0].session == 1


def test_start_column_and_session_without_charge():
    text = (
        "time,pile,gun,status,start\n"
        "2019-11-20 09:00:00,44030400030020,1,1,\n"
        "2019-11-20 09:00:40,44030400030020,1,2,\n"
        "2019-11-20 09:05:00,44030400030020,2,2,app\n"
        "2019-11-20 09:05:30,44030400030020,2,3,\n"
        "2019-11-20 09:30:00,44030400030020,2,2,\n"
    )
    scenario = parse_scenario(import_trace(text))
    steps = [(s.gun, s.do) for s in scenario.timeline]
    assert (1, "card") not in steps  # never charged in the log: plug and unplug only
    assert (2, "app_start") in steps and (2, "app_stop") in steps


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("bad_unknown_column.csv", ":1: kwh: unknown column"),
        ("bad_time.csv", ":3: time: '2019-10-29 25:06:00' is not a time"),
        ("bad_status.csv", ":3: status: '0' is not a field status"),
        ("bad_backwards.csv", ":4: time: 2019-10-29 18:05:30 goes back before line 3"),
    ],
)
def test_bad_input_is_one_line_naming_file_line_field(name: str, where: str):
    path = TRACES / name
    with pytest.raises(TraceError) as info:
        import_trace_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}{where}"), message
    assert "\n" not in message
    result = CliRunner().invoke(app, ["import-trace", str(path)])
    assert result.exit_code == 2
    assert where in result.output


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("2019-10-29 18:05:00,4403040003001,1,2", "pile"),
        ("2019-10-29 18:05:00,44030400030012,3,2", "gun"),
        ("2019-10-29 18:05:00,44030400030012,1,", "status"),
        ("2019-10-29 18:05:00,44030400030012,1,2,x", "energy_kwh"),
        ("2019-10-29 18:05:00,44030400030012,1,2,,2019", "bill_id"),
        ("2019-10-29 18:05:00,44030400030012,1,2", "row"),
    ],
)
def test_bad_cells_name_their_field(line: str, field: str):
    header = "time,pile,gun,status,energy_kwh,bill_id"
    if field != "row":
        line += "," * (header.count(",") - line.count(","))
    with pytest.raises(TraceError, match=rf"^t\.csv:2: {field}: "):
        parse_trace(f"{header}\n{line}\n", source="t.csv")


def test_missing_column_and_empty_file():
    with pytest.raises(TraceError, match=r"^t\.csv:1: status: missing required column$"):
        parse_trace("time,pile,gun\n", source="t.csv")
    with pytest.raises(TraceError, match=r"^t\.csv:1: header: "):
        parse_trace("", source="t.csv")
    with pytest.raises(TraceError, match=r"^t\.csv:1: rows: "):
        parse_trace("time,pile,gun,status\n", source="t.csv")


def test_cli_writes_a_runnable_scenario(tmp_path: Path):
    out = tmp_path / "s.toml"
    result = CliRunner().invoke(app, ["import-trace", str(ZPD12), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_scenario(out).meta.epoch == datetime(2019, 10, 29, 18, 0)
    bad = CliRunner().invoke(app, ["import-trace", str(ZPD12), "--profile", "nope@0"])
    assert bad.exit_code == 2 and "unknown firmware profile" in bad.output
