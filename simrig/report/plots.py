"""PNG pictures: a timeline per anomalous session and the A/B bar chart.

Figures are drawn with matplotlib's object API on the Agg canvas
(:class:`matplotlib.figure.Figure` + ``FigureCanvasAgg``): no GUI, no pyplot figure
registry, so nothing accumulates over hundreds of sessions and the caller's pyplot
backend is left alone. Each figure is dropped (and its canvas cleared) after saving.
"""

from __future__ import annotations

import bisect
import itertools
import math
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from simrig.capture import Chunk
from simrig.domain.anomaly import combo_label
from simrig.oracle.device_view import decode_chunks
from simrig.oracle.judge import SessionVerdict
from simrig.protocol.ykc import (
    CardAuthReply,
    CardStart,
    Frame,
    GunStatus,
    Heartbeat,
    RealtimeData,
    RecordAck,
    RemoteStart,
    RemoteStop,
    TransactionRecord,
)
from simrig.sim.results import RunResult, TruthSample

from .png import save_png
from .stats import ProfileStats, label_description, ordered_labels, profile_of

__all__ = ["RunIndex", "compare_bar_png", "session_timeline_png"]

#: how far past the truth window bill/command times are still drawn on the axis
MAX_STRETCH = timedelta(hours=24)
MARGIN = timedelta(minutes=2)
#: a reported 0x13 status is drawn until the next frame, at most this long
STATUS_HOLD = timedelta(minutes=6)

STATUS_COLOURS = {
    GunStatus.OFFLINE: "#9e9e9e",
    GunStatus.FAULT: "#d32f2f",
    GunStatus.IDLE: "#64b5f6",
    GunStatus.CHARGING: "#43a047",
}

#: heartbeats on paper drawn one by one up to this many per timeline, else as bands
MAX_PAPER_TICKS = 300

#: wire lanes of the link panel: (label, colour, marker)
LANES: list[tuple[str, str, str]] = [
    ("0x03 heartbeat", "#607d8b", "|"),
    ("0x31 card start", "#1e88e5", ">"),
    ("0x32 auth reply", "#1565c0", "<"),
    ("0x34 remote start", "#2e7d32", "^"),
    ("0x36 remote stop", "#c62828", "v"),
    ("0x3B bill", "#6a1b9a", "s"),
    ("0x40 bill ack", "#ab47bc", "D"),
    ("false notice", "#ff6f00", "*"),
]
LANE_OF = {label.split(" ")[0]: i for i, (label, _, _) in enumerate(LANES)}


class RunIndex:
    """Per-run lookups built once and shared by all of a run's timelines.

    Decoding the capture is the costly part; build one ``RunIndex(result)`` and pass it
    to every :func:`session_timeline_png` of the run.
    """

    def __init__(self, result: RunResult) -> None:
        self.result = result
        frames: dict[str, list[tuple[Chunk, Frame]]] = defaultdict(list)
        for chunk, frame in decode_chunks(result.chunks):
            frames[chunk.pile_no].append((chunk, frame))
        self.frames: dict[str, list[tuple[Chunk, Frame]]] = {}
        self._frame_times: dict[str, list[datetime]] = {}
        for pile, pile_frames in frames.items():
            pile_frames.sort(key=lambda cf: cf[0].at)
            self.frames[pile] = pile_frames
            self._frame_times[pile] = [c.at for c, _ in pile_frames]
        samples: dict[tuple[str, int], list[TruthSample]] = defaultdict(list)
        for sample in result.samples:
            samples[sample.pile_no, sample.gun].append(sample)
        self.samples: dict[tuple[str, int], list[TruthSample]] = {}
        self._sample_times: dict[tuple[str, int], list[float]] = {}
        for key, gun_samples in samples.items():
            gun_samples.sort(key=lambda s: s.t)
            self.samples[key] = gun_samples
            self._sample_times[key] = [s.t for s in gun_samples]
        #: per pile, (first, last, period) of each run of heartbeats sent on paper
        self.paper: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for event in result.events:
            if event.kind == "heartbeats_on_paper":
                d = event.data
                self.paper[event.source].append((d["first"], d["last"], d["period"]))

    def frames_between(
        self, pile: str, start: datetime, end: datetime
    ) -> list[tuple[Chunk, Frame]]:
        times = self._frame_times.get(pile, [])
        lo, hi = bisect.bisect_left(times, start), bisect.bisect_right(times, end)
        return self.frames.get(pile, [])[lo:hi]

    def paper_heartbeats(self, pile: str, start: float, end: float) -> list[float]:
        """When the pile sent a heartbeat on paper within [start, end] (scenario seconds)."""
        times: list[float] = []
        for first, last, period in self.paper.get(pile, []):
            k = max(0, math.ceil((start - first) / period))
            while (t := first + k * period) <= min(end, last):
                times.append(t)
                k += 1
        return sorted(times)

    def paper_spans(self, pile: str, start: float, end: float) -> list[float]:
        """The runs of heartbeats on paper within [start, end], as start, end, start, ..."""
        spans = []
        for first, last, _ in sorted(self.paper.get(pile, [])):
            if first <= end and last >= start:
                spans += [max(first, start), min(last, end)]
        return spans

    def samples_between(self, pile: str, gun: int, start: float, end: float) -> list[TruthSample]:
        """Samples in [start, end], from the last one at or before ``start`` (the state then)."""
        times = self._sample_times.get((pile, gun), [])
        lo, hi = bisect.bisect_right(times, start) - 1, bisect.bisect_right(times, end)
        return self.samples.get((pile, gun), [])[max(0, lo) : hi]


@dataclass(frozen=True, slots=True)
class _Mark:
    at: datetime
    label: str
    colour: str
    style: str


def _session_marks(verdict: SessionVerdict) -> list[_Mark]:
    """Vertical lines: true plug/charge/unplug vs the bills' times (the known ones)."""
    truth = verdict.truth
    marks: list[tuple[datetime | None, str, str, str]] = [
        (truth.plug_at, "plug (truth)", "black", ":"),
        (truth.charge_start, "charge start (truth)", "#2e7d32", "-"),
        (truth.charge_end, "charge end (truth)", "#2e7d32", "--"),
        (truth.unplug_at, "unplug (truth)", "black", "--"),
    ]
    for order in verdict.orders:
        if order.device_bill is not None:
            bill = order.device_bill
            marks += [
                (bill.start, "bill start", "#c62828", "-"),
                (bill.end, "bill end", "#c62828", "--"),
                (bill.trade_time, "bill trade time", "#c62828", ":"),
            ]
        if order.platform_bill is not None:
            pbill = order.platform_bill
            marks.append((pbill.service_end, "platform service end", "#6a1b9a", "-."))
            if order.device_bill is None:  # frames-less platform bill: show its times too
                marks += [
                    (pbill.start, "bill start", "#c62828", "-"),
                    (pbill.end, "bill end", "#c62828", "--"),
                ]
    return [_Mark(at, *rest) for at, *rest in marks if at is not None]


def _window(
    result: RunResult, verdict: SessionVerdict, marks: list[_Mark]
) -> tuple[datetime, datetime]:
    truth = verdict.truth
    start = truth.plug_at
    end = truth.unplug_at or result.wall(result.duration_s)
    for order in verdict.orders:  # a start command may precede the plug (60-second rule)
        session = order.platform_session
        if session is not None and session.created_at is not None:
            start = min(start, max(session.created_at, start - MAX_STRETCH))
    lo, hi = start - MAX_STRETCH, end + MAX_STRETCH
    for mark in marks:
        if lo <= mark.at <= hi:
            start, end = min(start, mark.at), max(end, mark.at)
    for notice in verdict.false_notifications:
        if lo <= notice.at <= hi:
            start, end = min(start, notice.at), max(end, notice.at)
    end = max(end, start + timedelta(minutes=1))
    return start - MARGIN, end + MARGIN


def _segments(points: list[tuple[datetime, Any]], end: datetime, hold: timedelta | None):
    """Step signal → [(start, end, value)] runs of equal value."""
    runs: list[list[Any]] = []
    for i, (at, value) in enumerate(points):
        nxt = points[i + 1][0] if i + 1 < len(points) else end
        if hold is not None:
            nxt = min(nxt, at + hold)
        if runs and runs[-1][2] == value and runs[-1][1] >= at:
            runs[-1][1] = max(runs[-1][1], nxt)
        else:
            runs.append([at, nxt, value])
    return [(a, b, v) for a, b, v in runs if b > a]


def _barh(ax: Any, lane: int, runs: list[tuple[datetime, datetime, Any]], colour_of) -> None:
    spans, colours = [], []
    for a, b, value in runs:
        colour = colour_of(value)
        if colour is None:
            continue
        x0 = date2num(a)
        spans.append((x0, date2num(b) - x0))
        colours.append(colour)
    if spans:
        ax.broken_barh(spans, (lane - 0.35, 0.7), facecolors=colours)


def session_timeline_png(
    result: RunResult,
    verdict: SessionVerdict,
    path: str | Path,
    index: RunIndex | None = None,
    *,
    dpi: int = 90,
) -> Path:
    """Draw one session's timeline (:func:`session_timeline_figure`) to ``path`` (PNG)
    and return the path."""
    return save_png(session_timeline_figure(result, verdict, index, dpi=dpi), path)


def session_timeline_figure(
    result: RunResult,
    verdict: SessionVerdict,
    index: RunIndex | None = None,
    *,
    dpi: int = 90,
) -> Figure:
    """One session's timeline as a figure.

    Panels sharing the time axis: gun state (truth plugged/charging vs 0x13 status and
    plugged flag), true power (a step at each sample: the plant is sampled at its every
    change, so a stop while offline shows where it happened, not at the next frame),
    energy (true metered since plug vs 0x13 energy vs billed),
    the wire (heartbeats, 0x31/0x32/0x34/0x36 commands, 0x3B/0x40, false notices; a frame
    sent again within a moment is marked ``×n``). Offline windows are shaded; true
    plug/charge/unplug and bill start/end/trade times are vertical lines. The title names
    the codes; the oracle's notes and the session's expectation are written under the
    panels. A session whose events are hours apart (a charge, then a bill 10 hours later)
    gets a broken time axis: the charge and the late events each at a readable scale.
    Pass a shared ``index`` when drawing many sessions of one run.
    """
    index = index or RunIndex(result)
    truth = verdict.truth
    pile, gun = truth.pile_no, truth.gun
    marks = _session_marks(verdict)
    start, end = _window(result, verdict, marks)
    t0, t1 = result.seconds(start), result.seconds(end)
    samples = index.samples_between(pile, gun, t0, t1)
    serials = {o.serial for o in verdict.orders}
    frames = [
        (c, f) for c, f in index.frames_between(pile, start, end) if _concerns(f, gun, serials)
    ]
    segments = _time_segments(start, end, _event_times(verdict, marks, frames, samples, result))
    notes = _note_lines(result, verdict)
    offline = [
        (a, b)
        for a, b in result.offline.get(pile, [])
        if result.wall(b) >= start and result.wall(a) <= end
    ]

    height = 9.5 + 0.16 * len(notes)
    fig = Figure(figsize=(13, height), dpi=dpi)
    FigureCanvasAgg(fig)
    widths = [1.0] if len(segments) == 1 else [2.2, 1.0]
    grid = fig.subplots(
        4,
        len(segments),
        sharex="col",
        sharey="row",
        squeeze=False,
        gridspec_kw={"height_ratios": [1.1, 1, 1.3, 1.4], "width_ratios": widths},
    )
    try:
        ticks = [result.wall(t) for t in index.paper_heartbeats(pile, t0, t1)]
        bands: list[datetime] = []
        if len(ticks) > MAX_PAPER_TICKS:  # hours of them: a band reads better
            ticks, bands = [], [result.wall(t) for t in index.paper_spans(pile, t0, t1)]
        handles: list[Artist] = []
        for col, (a, b) in enumerate(segments):
            ax_state, ax_power, ax_energy, ax_wire = (grid[row][col] for row in range(4))
            axes = [ax_state, ax_power, ax_energy, ax_wire]
            _draw_state(ax_state, result, samples, frames, end)
            _draw_power(ax_power, result, samples)
            _draw_energy(ax_energy, result, verdict, samples, frames, legend=col == 0)
            _draw_wire(ax_wire, frames, (ticks, bands), verdict, a, b)
            _draw_offline(axes, result, offline, a, b)
            drawn = _draw_marks(axes, marks, a, b)
            known = {h.get_label() for h in handles}
            handles += [h for h in drawn if h.get_label() not in known]
            ax_wire.set_xlim(date2num(a), date2num(b))
            locator = AutoDateLocator(minticks=2, maxticks=8 if col == 0 else 5)
            if col > 0:
                for ax in axes:
                    ax.set_ylabel("")
            ax_wire.xaxis.set_major_locator(locator)
            ax_wire.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        if len(segments) > 1:
            _break_marks(grid)
        off_axis = [m for m in marks if not any(a <= m.at <= b for a, b in segments)]
        if off_axis:
            text = "off-axis: " + "; ".join(f"{m.label} {m.at:%Y-%m-%d %H:%M:%S}" for m in off_axis)
            grid[0][0].text(
                0.01, 1.02, text, transform=grid[0][0].transAxes, fontsize=7, color="red"
            )
        title = _title(result, verdict)
        fig.suptitle(title, fontsize=11)
        if ticks or bands:  # the legend names only what the panels show
            paper = Patch(facecolor=LANES[LANE_OF["0x03"]][1], alpha=0.3, label="0x03 on paper")
            handles.append(paper)
        if offline:
            handles.append(Patch(facecolor="#bdbdbd", alpha=0.5, hatch="//", label="link offline"))
        handles += [
            *(
                Patch(facecolor=c, label=f"0x13 status {s.name.lower()}")
                for s, c in STATUS_COLOURS.items()
            ),
        ]
        fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
        bottom_in = 0.55 + 0.16 * len(notes)
        if notes:
            fig.text(0.01, 0.01, "\n".join(notes), fontsize=8, va="bottom", family="monospace")
        fig.subplots_adjust(
            left=0.12,
            right=0.83,
            top=1 - (0.45 + 0.2 * title.count("\n")) / height,
            bottom=bottom_in / height,
            hspace=0.12,
            wspace=0.04,
        )
    except BaseException:
        fig.clear()
        raise
    return fig


#: a session spanning more than this with most of it empty gets a broken time axis
BREAK_SPAN = timedelta(hours=2)
#: ... when its largest quiet gap is at least this share of the span
BREAK_GAP_SHARE = 0.5


#: frames that are events on a timeline (commands, bills); heartbeats and 0x13 are not
_EVENT_FRAMES = (CardStart, CardAuthReply, RemoteStart, RemoteStop, TransactionRecord, RecordAck)


def _event_times(
    verdict: SessionVerdict, marks: list[_Mark], frames, samples, result: RunResult
) -> list[datetime]:
    """The moments worth seeing: marks, commands and bills on the wire, false notices,
    the true charge (heartbeats and idle 0x13 are not events)."""
    times = [m.at for m in marks] + [n.at for n in verdict.false_notifications]
    times += [c.at for c, f in frames if isinstance(f.message, _EVENT_FRAMES)]
    times += [result.wall(s.t) for s in samples if s.charging]
    return sorted(times)


def _time_segments(
    start: datetime, end: datetime, times: list[datetime]
) -> list[tuple[datetime, datetime]]:
    """``[(start, end)]``, or two segments around the largest quiet gap when the session
    spans hours and that gap is most of it (igo_case#29: a charge, a bill 10 h later)."""
    inside = [t for t in times if start <= t <= end]
    if end - start < BREAK_SPAN or len(inside) < 2:
        return [(start, end)]
    gap, at = max((b - a, i) for i, (a, b) in enumerate(itertools.pairwise(inside)))
    if gap < BREAK_GAP_SHARE * (end - start):
        return [(start, end)]
    left_end, right_start = inside[at] + MARGIN, inside[at + 1] - MARGIN
    return [(start, left_end), (right_start, end)]


def _break_marks(grid) -> None:
    """Hide the spines where the time axis is broken and draw the usual diagonal cuts."""
    for row in grid:
        left, right = row[0], row[1]
        left.spines["right"].set_visible(False)
        right.spines["left"].set_visible(False)
        right.tick_params(axis="y", left=False, labelleft=False)
        kwargs = dict(marker=[(-1, -1), (1, 1)], markersize=8, ls="none", color="k", mec="k")
        kwargs["clip_on"] = False
        left.plot([1, 1], [0, 1], transform=left.transAxes, **kwargs)
        right.plot([0, 0], [0, 1], transform=right.transAxes, **kwargs)
    row = grid[0]
    row[1].text(
        0.5, 1.02, "time axis broken: hours later", transform=row[1].transAxes,
        fontsize=8, ha="center", color="#555555",
    )  # fmt: skip


def _title(result: RunResult, verdict: SessionVerdict) -> str:
    """``key · codes 6+10: occupancy … · case`` and the scenario and firmware."""
    if not verdict.judged:
        codes = f"not judged ({verdict.not_judged})"
    elif verdict.codes:
        label = combo_label(verdict.codes)
        codes = f"codes {label}: {label_description(label)}"
    else:
        codes = "no anomaly"
    notices = len(verdict.false_notifications)
    extra = f" · {notices} false notice(s)" if notices else ""
    case = f" · {result.case}" if result.case and result.case != result.scenario_name else ""
    head = "\n".join(textwrap.wrap(f"{verdict.key} · {codes}{extra}", 120))  # wrapped, not cut
    return f"{head}\n{result.scenario_name}{case} · {profile_of(result, verdict)}"


#: at most this many lines of notes under a timeline (the rest are in results.json)
MAX_NOTE_LINES = 10


def _note_lines(result: RunResult, verdict: SessionVerdict) -> list[str]:
    """The oracle's notes (why these codes), false notices and the expectation outcome."""
    lines: list[str] = []
    for note in verdict.notes:
        lines += textwrap.wrap(f"• {note}", 150, subsequent_indent="  ")
    for notice in verdict.false_notifications:
        lines.append(f"• false notice {notice.kind} at {notice.at:%Y-%m-%d %H:%M:%S}")
    for e in result.expectations:
        if e.key == verdict.key:
            outcome = "met" if e.passed else "FAILED"
            lines.append(f"• expectation {outcome}: wanted {e.expected}, got {e.actual}")
    if len(lines) > MAX_NOTE_LINES:
        lines = [*lines[: MAX_NOTE_LINES - 1], f"… {len(lines) - MAX_NOTE_LINES + 1} more"]
    return lines


def _concerns(frame: Frame, gun: int, serials: set[str]) -> bool:
    msg = frame.message
    if isinstance(msg, RecordAck):
        return msg.serial in serials
    msg_gun = getattr(msg, "gun", None)
    return msg_gun is None or msg_gun == gun


def _draw_state(ax: Any, result, samples, frames, end: datetime) -> None:
    truth_plugged = [(result.wall(s.t), s.plugged) for s in samples]
    truth_charging = [(result.wall(s.t), s.charging) for s in samples]
    realtime = [(c.at, f.message) for c, f in frames if isinstance(f.message, RealtimeData)]
    status = [(at, int(m.status)) for at, m in realtime]
    plugged = [(at, bool(m.plugged)) for at, m in realtime]
    end_truth = result.wall(samples[-1].t) if samples else end
    _barh(ax, 3, _segments(truth_plugged, end_truth, None), lambda v: "#8d6e63" if v else None)
    _barh(ax, 2, _segments(truth_charging, end_truth, None), lambda v: "#43a047" if v else None)
    _barh(ax, 1, _segments(plugged, end, STATUS_HOLD), lambda v: "#8d6e63" if v else None)

    def status_colour(v: int) -> str:
        try:
            return STATUS_COLOURS[GunStatus(v)]
        except ValueError:
            return "black"

    _barh(ax, 0, _segments(status, end, STATUS_HOLD), status_colour)
    ax.set_yticks(
        [0, 1, 2, 3],
        ["0x13 status", "0x13 plugged", "charging (truth)", "plugged (truth)"],
        fontsize=8,
    )
    ax.set_ylim(-0.6, 3.6)
    ax.set_ylabel("gun state", fontsize=9)


def _draw_power(ax: Any, result, samples) -> None:
    if samples:
        xs = date2num([result.wall(s.t) for s in samples])
        ax.step(xs, [s.power_kw for s in samples], where="post", color="#ef6c00", lw=1.2)
    ax.set_ylabel("power kW\n(truth)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def _draw_energy(
    ax: Any, result, verdict: SessionVerdict, samples, frames, legend: bool = True
) -> None:
    truth = verdict.truth
    plug_t = result.seconds(truth.plug_at)
    base = None
    for s in samples:  # meter reading at the plug: last sample at or before it
        if s.t <= plug_t or base is None:
            base = s.meter_kwh
    if samples and base is not None:
        xs = date2num([result.wall(s.t) for s in samples])
        ax.plot(
            xs,
            [max(0.0, s.meter_kwh - base) for s in samples],
            color="#2e7d32",
            lw=1.5,
            label="metered (truth)",
        )
    serials = {o.serial for o in verdict.orders}
    reported = [
        (c.at, f.message.energy)
        for c, f in frames
        if isinstance(f.message, RealtimeData) and (not serials or f.message.serial in serials)
    ]
    if reported:
        ax.plot(
            date2num([a for a, _ in reported]),
            [e for _, e in reported],
            ".",
            ms=3,
            color="#1e88e5",
            label="0x13 energy",
        )
    for order in verdict.orders:
        if order.device_bill is not None:
            ax.axhline(
                order.device_bill.energy_kwh,
                color="#c62828",
                ls="--",
                lw=1,
                label=f"pile bill {order.device_bill.energy_kwh:.2f} kWh",
            )
        if order.platform_bill is not None:
            ax.axhline(
                order.platform_bill.energy_kwh,
                color="#6a1b9a",
                ls=":",
                lw=1.3,
                label=f"platform bill {order.platform_bill.energy_kwh:.2f} kWh",
            )
    ax.set_ylabel("energy kWh", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")


def _draw_wire(
    ax: Any,
    frames,
    paper: tuple[list[datetime], list[datetime]],
    verdict: SessionVerdict,
    start: datetime,
    end: datetime,
) -> None:
    points: dict[int, list[datetime]] = defaultdict(list)
    for chunk, frame in frames:
        msg = frame.message
        lane: str | None = None
        if isinstance(msg, Heartbeat):
            lane = "0x03"
        elif isinstance(msg, CardStart):
            lane = "0x31"
        elif isinstance(msg, CardAuthReply):
            lane = "0x32"
        elif isinstance(msg, RemoteStart):
            lane = "0x34"
        elif isinstance(msg, RemoteStop):
            lane = "0x36"
        elif isinstance(msg, TransactionRecord) and chunk.direction == "up":
            lane = "0x3B"
        elif isinstance(msg, RecordAck):
            lane = "0x40"
        if lane is not None:
            points[LANE_OF[lane]].append(chunk.at)
    for notice in verdict.false_notifications:
        if start <= notice.at <= end:
            points[LANE_OF["false"]].append(notice.at)
    row = LANE_OF["0x03"]
    colour = LANES[row][1]
    ticks, bands = paper  # heartbeats on paper, one by one or as bands start, end, ...
    for a, b in zip(bands[::2], bands[1::2], strict=True):
        ax.plot(date2num([a, b]), [row, row], color=colour, lw=6, alpha=0.3)
    if ticks:
        ax.plot(date2num(ticks), [row] * len(ticks), "|", color=colour, ms=10, alpha=0.3)
    close = (end - start) / REPEAT_SHARE
    for row, times in points.items():
        _, colour, marker = LANES[row]
        size = 10 if marker == "|" else 6
        ax.plot(date2num(times), [row] * len(times), marker, color=colour, ms=size, ls="none")
        if marker == "|":
            continue
        for first, count in _repeats(sorted(times), close):
            ax.annotate(
                f"×{count}", (date2num(first), row), xytext=(5, -9),
                textcoords="offset points", fontsize=8, color=colour, fontweight="bold",
            )  # fmt: skip
    ax.set_yticks(range(len(LANES)), [label for label, _, _ in LANES], fontsize=8)
    ax.set_ylim(-0.7, len(LANES) - 0.3)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_ylabel("wire", fontsize=9)


#: frames of one lane closer than the window / this are drawn as one marker: label ×n
REPEAT_SHARE = 150


def _repeats(times: list[datetime], close: timedelta) -> list[tuple[datetime, int]]:
    """Runs of frames each within ``close`` of the previous: (first, count) for count > 1
    (a stop sent three times in 20 s would otherwise look like one marker)."""
    runs: list[tuple[datetime, int]] = []
    first, last, count = None, None, 0
    for t in times:
        if last is not None and t - last <= close:
            count += 1
        else:
            if first is not None and count > 1:
                runs.append((first, count))
            first, count = t, 1
        last = t
    if first is not None and count > 1:
        runs.append((first, count))
    return runs


def _draw_offline(
    axes, result: RunResult, windows: list[tuple[float, float]], start: datetime, end: datetime
) -> None:
    for a, b in windows:
        wa, wb = result.wall(a), result.wall(b)
        if wb < start or wa > end:
            continue
        for ax in axes:
            ax.axvspan(
                date2num(max(wa, start)),
                date2num(min(wb, end)),
                facecolor="#bdbdbd",
                alpha=0.5,
                hatch="//",
                edgecolor="#9e9e9e",
                lw=0,
            )


def _draw_marks(axes, marks: list[_Mark], start: datetime, end: datetime) -> list[Line2D]:
    handles: dict[str, Line2D] = {}
    for mark in marks:
        if not start <= mark.at <= end:
            continue
        for ax in axes:
            ax.axvline(date2num(mark.at), color=mark.colour, ls=mark.style, lw=1.1, alpha=0.85)
        handles.setdefault(
            mark.label, Line2D([], [], color=mark.colour, ls=mark.style, label=mark.label)
        )
    return list(handles.values())


def compare_bar_png(
    rows: Sequence[ProfileStats], path: str | Path, *, title: str = "Anomalous sessions per 1,000"
) -> Path:
    """Grouped bars per anomaly label (codes 1–11 and combos seen), one bar per profile.

    ``rows`` are :class:`~simrig.report.stats.ProfileStats`; bar height is the rate per
    1,000 sessions, the count is written on each bar (a zero-anomaly firmware shows 0s).
    """
    labels = ordered_labels((lbl for s in rows for lbl in s.by_label), all_single=True)
    width_in = min(24.0, max(8.0, 0.35 * len(labels) * max(1, len(rows)) + 3))
    fig = Figure(figsize=(width_in, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    try:
        n = max(1, len(rows))
        width = 0.8 / n
        for i, stats in enumerate(rows):
            xs = [j - 0.4 + width * (i + 0.5) for j in range(len(labels))]
            rates = [stats.rate(label) for label in labels]
            bars = ax.bar(xs, rates, width, label=f"{stats.profile} ({stats.sessions} sessions)")
            counts = [stats.count(label) for label in labels]
            ax.bar_label(bars, [str(c) for c in counts], fontsize=7, padding=1)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel("anomaly code (combos as in the field table)")
        ax.set_ylabel("sessions per 1,000")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylim(bottom=0)
        if rows:
            ax.legend(fontsize=8)
        fig.tight_layout()
    except BaseException:
        fig.clear()
        raise
    return save_png(fig, path)
