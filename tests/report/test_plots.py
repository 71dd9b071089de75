"""PNG timelines per anomalous session and the A/B bar chart."""

import gc
import sys
from dataclasses import replace
from datetime import datetime

from matplotlib.figure import Figure

from simrig.endpoint import Event
from simrig.report.plots import (
    MAX_NOTE_LINES,
    RunIndex,
    _session_marks,
    _window,
    compare_bar_png,
    session_timeline_figure,
    session_timeline_png,
)
from simrig.report.stats import ProfileStats, stats_by_profile

from .builders import PILE_A, T0, Spec, at, make_run
from .conftest import png_size


def _timeline_size(size: tuple[int, int]) -> bool:
    """13 × 9.5 in at 90 dpi, plus a line of notes (0.16 in) per note under the panels."""
    width, height = size
    return width == 1170 and 855 <= height <= 855 + round(90 * 0.16 * MAX_NOTE_LINES)


def _live_figures() -> int:
    gc.collect()
    return sum(isinstance(o, Figure) for o in gc.get_objects())


def test_timeline_png_per_anomalous_session(result_a, tmp_path):
    index = RunIndex(result_a)
    before = _live_figures()
    paths = [
        session_timeline_png(result_a, v, tmp_path / f"{v.truth.index}.png", index)
        for v in result_a.anomalous
    ]
    assert [p.name for p in paths] == ["2.png", "3.png"]
    for path in paths:
        assert _timeline_size(png_size(path))
        assert 20_000 < path.stat().st_size < 1_000_000
    assert _live_figures() == before  # nothing kept alive between sessions
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or not pyplot.get_fignums()  # no pyplot registry involved


def test_timeline_creates_folder_and_builds_its_own_index(result_a, tmp_path):
    path = session_timeline_png(result_a, result_a.verdicts[1], tmp_path / "a" / "b" / "s.png")
    assert path.exists() and png_size(path)[0] > 0


def test_run_index_windows(result_a):
    index = RunIndex(result_a)
    frames = index.frames_between(PILE_A, at(30), at(31))
    assert frames and all(at(30) <= c.at <= at(31) for c, _ in frames)
    names = {f.name for _, f in frames}
    assert {"heartbeat", "card_start", "card_auth_reply", "realtime_data"} <= names
    samples = index.samples_between(PILE_A, 1, 600.0, 900.0)
    assert (samples[0].t, samples[-1].t, len(samples)) == (600.0, 900.0, 21)
    between = index.samples_between(PILE_A, 1, 610.0, 900.0)
    assert between[0].t == 600.0  # the state at 610 s is the sample of 600 s
    assert index.frames_between("nope", at(0), at(99)) == []
    assert index.samples_between("nope", 1, 0, 1e9) == []


def test_heartbeats_on_paper_are_drawn_where_they_were_due(result_a, tmp_path):
    paper = Event(
        900.0,
        "heartbeats_on_paper",
        PILE_A,
        data={"first": 105.0, "last": 885.0, "period": 10.0, "count": 79},
    )
    result = replace(result_a, events=[*result_a.events, paper])
    index = RunIndex(result)
    assert index.paper_heartbeats(PILE_A, 600.0, 640.0) == [605.0, 615.0, 625.0, 635.0]
    assert index.paper_heartbeats(PILE_A, 880.0, 2000.0) == [885.0]
    assert index.paper_heartbeats(PILE_A, 0.0, 104.0) == []
    assert index.paper_heartbeats("nope", 0.0, 1e9) == []
    path = session_timeline_png(result, result.verdicts[1], tmp_path / "paper.png", index)
    assert _timeline_size(png_size(path))


def test_window_ignores_wild_bill_times(result_a, tmp_path):
    """A clock-skewed bill (year 2000) is noted off-axis, not stretched to."""
    verdict = result_a.verdicts[2]
    order = verdict.orders[0]
    skewed = replace(order.device_bill, start=datetime(2000, 1, 1), trade_time=at(600))
    verdict = replace(verdict, orders=(replace(order, device_bill=skewed),))
    start, end = _window(result_a, verdict, _session_marks(verdict))
    assert start.year == 2019 and start <= verdict.truth.plug_at
    assert end >= at(600)  # 10 h late: still within reach, drawn
    assert png_size(session_timeline_png(result_a, verdict, tmp_path / "skew.png"))[0] == 1170


def test_timeline_without_capture_or_samples(result_a, tmp_path):
    """Frames-only or platform-less runs with no samples still draw (empty panels)."""
    bare = replace(result_a, chunks=[], samples=[], offline={})
    path = session_timeline_png(bare, bare.verdicts[1], tmp_path / "bare.png")
    assert _timeline_size(png_size(path))


def test_timeline_unplug_never_seen(tmp_path):
    run = make_run(
        [Spec(1, plug=0, start=1, end=10, unplug=12, codes=frozenset({2}), billed=False)]
    )
    verdict = replace(run.verdicts[0], truth=replace(run.verdicts[0].truth, unplug_at=None))
    path = session_timeline_png(run, verdict, tmp_path / "open.png")
    assert png_size(path)[0] == 1170
    assert run.epoch == T0


def test_compare_bar_png_two_profiles(result_a, result_b, tmp_path):
    rows = stats_by_profile([result_a, result_b])
    path = compare_bar_png(rows, tmp_path / "ab" / "compare.png")
    width, height = png_size(path)
    assert height == 500 and 800 <= width <= 2400
    assert path.stat().st_size > 10_000


def test_compare_bar_png_empty_profile(tmp_path):
    path = compare_bar_png([ProfileStats("x"), ProfileStats("y")], tmp_path / "c.png")
    assert png_size(path)[1] == 500


def _legend(fig: Figure) -> set[str]:
    [legend] = fig.legends
    return {text.get_text() for text in legend.get_texts()}


def test_the_legend_names_paper_heartbeats_and_offline_only_where_drawn(result_a):
    """A key for what the panels do not show misleads the reader of a bill dispute."""
    verdict = result_a.verdicts[1]
    plain = replace(result_a, offline={})
    labels = _legend(session_timeline_figure(plain, verdict))
    assert "0x03 on paper" not in labels and "link offline" not in labels
    assert "0x13 status charging" in labels
    start = result_a.seconds(verdict.truth.plug_at)
    paper = Event(start + 60, "heartbeats_on_paper", PILE_A, data={"first": start + 5,
                  "last": start + 55, "period": 10.0, "count": 6})  # fmt: skip
    shown = replace(
        plain, events=[*plain.events, paper], offline={PILE_A: [(start + 10, start + 40)]}
    )
    labels = _legend(session_timeline_figure(shown, verdict))
    assert {"0x03 on paper", "link offline"} <= labels
    elsewhere = replace(plain, offline={PILE_A: [(start - 7200, start - 3600)]})
    assert "link offline" not in _legend(session_timeline_figure(elsewhere, verdict))
