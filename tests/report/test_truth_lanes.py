"""The timeline's truth lanes draw the plant-change samples as steps (issue 14 item 7):
a pile that stops itself while offline shows 0 kW and no charging from its own stop."""

from __future__ import annotations

import bisect
from pathlib import Path

import pytest
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from simrig.report.plots import RunIndex, _draw_power, _segments, session_timeline_png
from simrig.scenarios import parse_scenario
from simrig.sim.results import RunResult
from simrig.sim.runner import run_scenario

from .conftest import png_size

PILE = "55031412782305"
OUTAGE = Path(__file__).parents[1] / "oracle" / "restart_after_outage.toml"
#: half a second, in matplotlib's date unit (days)
HALF_S = 0.5 / 86400


@pytest.fixture(scope="module")
def outage_run() -> RunResult:
    """generic-dc@1.0 stops itself 120 s after going offline; the user restarts later."""
    return run_scenario(parse_scenario(OUTAGE.read_text(), source=str(OUTAGE)))


def _stop_and_restart(result: RunResult) -> tuple[float, float]:
    (_, first_end), (second_start, _) = result.verdicts[0].truth.episodes
    assert first_end is not None
    return result.seconds(first_end), result.seconds(second_start)


def test_the_power_lane_steps_to_zero_at_the_piles_own_stop(outage_run):
    result = outage_run
    stop, restart = _stop_and_restart(result)
    samples = RunIndex(result).samples_between(PILE, 1, stop - 600, restart + 60)
    fig = Figure()
    ax = fig.add_subplot()
    _draw_power(ax, result, samples)
    [line] = ax.get_lines()
    assert line.get_drawstyle() == "steps-post"
    xs, ys = list(line.get_xdata()), list(line.get_ydata())

    def drawn_at(t: float) -> float:
        return ys[bisect.bisect_right(xs, date2num(result.wall(t))) - 1]

    assert drawn_at(stop - 1) == pytest.approx(60.0)
    for t in (stop + 0.5, (stop + restart) / 2, restart - 1):
        assert drawn_at(t) == 0.0, t
    assert drawn_at(restart + 0.5) == pytest.approx(60.0)


def test_the_charging_lane_ends_at_the_piles_own_stop(outage_run):
    result = outage_run
    stop, restart = _stop_and_restart(result)
    samples = RunIndex(result).samples_between(PILE, 1, stop - 600, restart + 60)
    runs = _segments(
        [(result.wall(s.t), s.charging) for s in samples], result.wall(restart + 60), None
    )
    charging = [(date2num(a), date2num(b)) for a, b, on in runs if on]
    assert len(charging) == 2  # before the stop, after the restart
    assert charging[0][1] == pytest.approx(date2num(result.wall(stop)), abs=HALF_S)
    assert charging[1][0] == pytest.approx(date2num(result.wall(restart)), abs=HALF_S)


def test_the_outage_session_draws(outage_run, tmp_path):
    path = session_timeline_png(outage_run, outage_run.verdicts[0], tmp_path / "s.png")
    assert png_size(path)[0] == 1170
