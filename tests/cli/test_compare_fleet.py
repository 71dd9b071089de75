"""``simrig compare`` as a vendor's A/B (issue 14 item 5): profile names or files, fleet
size in sessions, Wilson intervals and a verdict per label in ``summary.txt``, and
``--jobs N`` giving the very same bytes as ``--jobs 1``."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from typer.testing import CliRunner

from simrig.cli import app
from simrig.cli.fleet import SHARD_PILES, pile_stream, plan_fleet
from simrig.exit_codes import ExitCode
from simrig.scenarios.workload import WorkloadSpec, fleet_scenario

from ..firmware_models.test_primitives import _doc_profiles

runner = CliRunner()
A = "sinexcel-dc@2090104"


def _compare(out: Path, *options: str) -> object:
    return runner.invoke(app, ["compare", *options, "--out", str(out)])


def test_jobs_2_gives_the_bytes_of_jobs_1_with_a_profile_file(tmp_path: Path):
    late = tmp_path / "acme-late.toml"
    late.write_text(_doc_profiles()[0])
    common = ["--profile", A, "--profile", str(late), "--sessions", "70", "--days", "1"]
    common += ["--sessions-per-pile-day", "3", "--seed", "5"]
    one = _compare(tmp_path / "one", *common, "--jobs", "1")
    two = _compare(tmp_path / "two", *common, "--jobs", "2")
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    for name in ("summary.txt", "ab.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    # results.json too, but for the wall-clock time each run took (a measurement)
    timed = re.compile(rb'"wall_s": [0-9.e-]+')
    one_json, two_json = ((tmp_path / d / "results.json").read_bytes() for d in ("one", "two"))
    assert timed.sub(b"", one_json) == timed.sub(b"", two_json)
    assert len(timed.findall(one_json)) == 2
    doc = json.loads((tmp_path / "one" / "ab.json").read_text())
    assert [p["profile"] for p in doc["profiles"]] == [A, "acme-dc@late1"]
    assert [p["sessions"] for p in doc["profiles"]] == [70, 70]  # exactly --sessions
    runs = json.loads((tmp_path / "one" / "results.json").read_text())["runs"]
    piles = {p for run in runs for p in run["profiles"]}
    assert len(piles) > 2 * SHARD_PILES  # more than one shard per profile
    summary = (tmp_path / "one" / "summary.txt").read_text()
    assert "acme-dc@late1 n" in summary and f"{A} n" in summary  # names never cut
    lost = next(lb for lb in doc["labels"] if lb["label"] == "1")
    k, n = lost["counts"][0], 70
    low, high = lost["wilson95"][0]
    assert low < k / n < high and lost["against_first"][0] is not None
    assert (tmp_path / "one" / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_a_shard_generates_exactly_its_piles_sessions_of_the_whole_fleet():
    spec = WorkloadSpec(profile="generic-dc@1.0", piles=20, days=2, seed=3)
    whole = fleet_scenario(spec, [(i, pile_stream(3, i), None) for i in range(20)], "w", 3)
    part = fleet_scenario(spec, [(i, pile_stream(3, i), None) for i in (17, 18)], "p", 3)
    mine = {str(spec.first_pile_no + i) for i in (17, 18)}
    assert [s for s in whole.timeline if s.pile in mine] == list(part.timeline)
    assert {u.name for u in part.users} == {f"p{i:05d}u{j}" for i in (17, 18) for j in range(8)}
    # and a fleet sized by sessions has exactly that many visits
    plan = plan_fleet(spec, 45)
    piles = [(i, pile_stream(3, i), lim) for shard in plan.shards() for i, lim in shard]
    scenario = fleet_scenario(spec, piles, "s", 3)
    assert sum(1 for s in scenario.timeline if s.do == "plug") == 45
    assert random.Random(0).random() == random.Random(0).random()  # streams are seeded


def test_bad_compare_input_is_one_line(tmp_path: Path):
    result = _compare(tmp_path, "--profile", A, "--profile", "nope-dc@1")
    assert result.exit_code == ExitCode.BAD_INPUT and "unknown firmware profile" in result.output
    result = _compare(tmp_path, "--profile", A, "--backend", "tcp://127.0.0.1:9", "--jobs", "2")
    assert result.exit_code == ExitCode.BAD_INPUT and "--jobs 2" in result.output


def test_platform_flags_count_orders_per_label_of_the_platforms_own_codes():
    from dataclasses import replace

    from simrig.cli.fleet import platform_flags
    from simrig.endpoint import Event

    from ..report.builders import run_a

    first = 32010200000001
    b_pile = str(first + 10_000)

    def flag(pile: str, serial: str, code: int) -> Event:
        return Event(0.0, "anomaly", pile, 1, {"code": code, "serial": serial})

    events = [
        flag(str(first), "s1", 9),
        flag(str(first), "s1", 11),
        flag(str(first), "s2", 1),
        flag(b_pile, "s3", 1),
        flag(b_pile, "s5", 1),  # flagged lost, then its bill came (late): not lost
        flag(b_pile, "s5", 10),
        Event(9.0, "bill", b_pile, 1, {"serial": "s5", "anomalies": [10]}),
        flag(b_pile, "s6", 1),  # the same, with nothing else: no label at all
        Event(9.0, "bill", b_pile, 1, {"serial": "s6", "anomalies": []}),
    ]
    result = replace(run_a(), events=events)
    a, b = platform_flags([result], ["A", "B"], first)
    assert (dict(a), dict(b)) == ({"9+11": 1, "1": 1}, {"1": 1, "10": 1})
