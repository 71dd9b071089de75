"""``simrig replay CAPTURE --backend tcp://HOST:PORT``: re-drive a backend with the pile
side of a capture and report where its replies differ (issue 12 item 3).

Exit 0: the backend answered as recorded; 1: differences (replies, fields, timing, or
the frames-only verdicts); 2: bad input (an unreadable capture: one line naming the file
and the position); 3: backend unavailable; 4: interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from simrig.exit_codes import ExitCode

from .common import DEFAULT_OUT, OutOption, fail, interruptible, parse_epoch, unavailable

if TYPE_CHECKING:
    from simrig.adapters.replay_client import ReplayOptions, ReplayRun
    from simrig.capture.record import Chunk, LinkEvent
    from simrig.replay import ReplayDiff, ReplayPlan, Rewriter

__all__ = ["load_capture", "parse_pile_map", "register"]

#: rows of the difference table printed (all of them are in replay.json)
MAX_ROWS = 40


def parse_backend(url: str) -> tuple[str, int]:
    """``tcp://host:port`` → (host, port)."""
    host, sep, port = url.removeprefix("tcp://").rpartition(":")
    if not url.startswith("tcp://") or not sep or not port.isdigit() or not host:
        raise ValueError(f"--backend {url!r}: expected tcp://HOST:PORT")
    return host, int(port)


def parse_pile_map(pairs: list[str]) -> dict[str, str]:
    """``OLD=NEW`` pairs of 14-digit pile numbers."""
    out: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not (old.isdigit() and new.isdigit() and len(old) == len(new) == 14):
            raise ValueError(f"--pile-map {pair!r}: expected OLD=NEW, two 14-digit pile numbers")
        out[old] = new
    return out


def load_capture(path: Path) -> list[Chunk | LinkEvent]:
    """Every item of the capture, or one line naming the file and where it broke."""
    from simrig.capture.formats import read_capture

    if not path.is_file():
        raise ValueError(f"{path}: no such capture file")
    items: list[Chunk | LinkEvent] = []
    try:
        for item in read_capture(path):
            items.append(item)
    except Exception as exc:  # a parser of a broken file may raise anything: name where
        detail = str(exc).splitlines()[0] if str(exc) else f"truncated ({type(exc).__name__})"
        if detail.startswith(str(path)):
            raise ValueError(detail) from None
        where = (
            f"after record {len(items)} ({items[-1].at.isoformat()})"
            if items
            else "at its first record"
        )
        raise ValueError(f"{path}: unreadable capture {where}: {detail}") from None
    return items


def _rows(diff: ReplayDiff) -> Iterator[tuple[str, ...]]:
    for d in diff.differences:
        yield d.kind, d.pile_no, d.what, d.field, d.recorded, d.fresh


def print_diff(
    console: Console,
    diff: ReplayDiff,
    run: ReplayRun,
    rewriter: Rewriter,
    plan: ReplayPlan,
    options: ReplayOptions,
) -> None:
    source = "from the 0x56 time sync" if rewriter.clock_learned else "guessed from the starts"
    beats = f" (+{run.heartbeats} heartbeats sent on paper in the recording)"
    console.print(
        f"replayed {run.sent} of {plan.frames} pile frames{beats if run.heartbeats else ''} "
        f"on {run.connections} connections "
        f"in {run.wall_s:.1f} s; backend frames: recorded {diff.recorded_replies}, "
        f"replay {diff.fresh_replies}, matched {diff.matched}"
    )
    console.print(
        f"clock offset {rewriter.clock_offset.total_seconds():+.3f} s ({source}); "
        f"serials mapped {len(rewriter.serials)}"
        + (f", refused {len(rewriter.refused)}" if rewriter.refused else "")
    )
    span = (plan.recorded.frames[-1].at - plan.start).total_seconds()
    if options.as_fast and span > 0:
        console.print(
            f"note: as fast as replies, the backend's clock moved about "
            f"{run.wall_s * options.speed:,.0f} s where the recording's moved {span:,.0f} s: "
            "its timers (liveness, timeouts) and the body times (recorded spacing) do not "
            "line up, and its times are not compared; --speed keeps the recorded timing",
            highlight=False,
        )
    for note in [*run.notes, *rewriter.kept]:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if diff.same:
        console.print("[green]no difference[/green]: the backend answered as recorded")
        return
    table = Table(title="backend differences (recorded → replay)")
    for column in ("kind", "pile", "frame", "field", "recorded", "replay"):
        table.add_column(column, overflow="fold")
    for row in list(_rows(diff))[:MAX_ROWS]:
        table.add_row(*row)
    console.print(table)
    more = len(diff.differences) - MAX_ROWS
    if more > 0:
        console.print(f"... {more} more in replay.json")
    counts = ", ".join(f"{n} {kind}" for kind, n in diff.counts().items() if n)
    console.print(f"[red]{len(diff.differences)} differences[/red]: {counts}")


def write_outputs(
    out: Path,
    capture: Path,
    backend: str,
    options: ReplayOptions,
    run: ReplayRun,
    diff: ReplayDiff,
    rewriter: Rewriter,
    code: int,
    tolerance: float,
) -> Path:
    """The fresh capture (``capture.pcapng``, ``frames.jsonl``) and ``replay.json``."""
    from simrig.capture.formats import write_capture

    out.mkdir(parents=True, exist_ok=True)
    piles = list(dict.fromkeys(c.pile_no for c in run.items))
    write_capture(out / "capture.pcapng", run.items, piles)
    write_capture(out / "frames.jsonl", run.items, piles)
    report = {
        "capture": str(capture),
        "backend": backend,
        "mode": "as_fast_as_replies" if options.as_fast else "recorded_timing",
        "speed": options.speed,
        "reply_cap_s": options.cap_s,
        "timing_tolerance_s": tolerance,
        "sent": run.sent,
        "heartbeats_put_back": run.heartbeats,
        "connections": run.connections,
        "wall_s": round(run.wall_s, 3),
        "clock_offset_s": rewriter.clock_offset.total_seconds(),
        "clock_offset_from": "time_sync" if rewriter.clock_learned else "run_starts",
        "serials": rewriter.serials,
        "refused_serials": rewriter.refused,
        "pile_map": rewriter.pile_map,
        "replies": {
            "recorded": diff.recorded_replies,
            "replay": diff.fresh_replies,
            "matched": diff.matched,
        },
        "counts": diff.counts(),
        "differences": [d.as_json() for d in diff.differences],
        "notes": [*run.notes, *rewriter.kept],
        "exit_code": code,
    }
    path = out / "replay.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def replay(
    capture: Annotated[Path, typer.Argument(help="A capture: .pcapng, .pcap, .jsonl or .hex.")],
    backend: Annotated[str, typer.Option(help="The backend to re-drive: tcp://HOST:PORT.")],
    speed: Annotated[
        float, typer.Option(min=0.001, help="Recorded timing ÷ this (the backend's speed).")
    ] = 1.0,
    as_fast_as_replies: Annotated[
        bool,
        typer.Option(
            "--as-fast-as-replies",
            help="Send each pile frame as soon as the replies it waited for came.",
        ),
    ] = False,
    reply_cap: Annotated[
        float,
        typer.Option(min=0.0, help="Longest wait (s) for a reply a pile frame waited for."),
    ] = 1.0,
    pile_map: Annotated[
        list[str] | None, typer.Option("--pile-map", help="OLD=NEW pile number (repeatable).")
    ] = None,
    backend_epoch: Annotated[
        str | None,
        typer.Option(
            help="ISO time the backend's clock shows as the replay starts (the fresh "
            "capture's timeline; body times follow its 0x56); default: now."
        ),
    ] = None,
    timing_tolerance: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Reply delay difference to report (s on the recorded clock); default: "
            "2 s or 0.1 s of real time × --speed, whichever is larger.",
        ),
    ] = None,
    out: OutOption = DEFAULT_OUT,
) -> None:
    """Replay the pile side of CAPTURE against a backend; diff its replies with the recorded.

    Exit 0 no difference, 1 differences, 2 bad input, 3 backend unavailable, 4 interrupted."""
    from simrig.adapters.replay_client import BackendUnavailable, ReplayOptions, run_replay
    from simrig.replay import Rewriter, build_plan, diff_replay
    from simrig.replay.plan import read_frames

    console = Console()
    if not console.is_terminal:  # logs and pipes: one row per difference, unwrapped
        console = Console(width=160)
    try:
        host, port = parse_backend(backend)
        mapping = parse_pile_map(pile_map or [])
        epoch = parse_epoch(backend_epoch)
        items = load_capture(capture)
        plan = build_plan(read_frames(items, str(capture)), str(capture))
        unknown = sorted(set(mapping) - set(plan.piles))
        if unknown:
            raise ValueError(f"--pile-map {unknown[0]}: no such pile in {capture}")
    except ValueError as exc:
        fail(str(exc))
    options = ReplayOptions(
        host, port, speed=speed, as_fast=as_fast_as_replies, cap_s=reply_cap, epoch=epoch
    )
    tolerance = timing_tolerance if timing_tolerance is not None else max(2.0, 0.1 * speed)
    rewriter = Rewriter.for_recording(plan.recorded, mapping)
    try:
        with interruptible():
            run = run_replay(plan, options, rewriter)
    except BackendUnavailable as exc:
        unavailable(str(exc))
    fresh = read_frames(run.items, "replay")
    recorded = plan.recorded
    if run.interrupted:  # compare what the replay got to (and its replies), not the rest
        reached = run.reached or plan.start
        recorded = recorded.until(reached)
        run.notes.append(f"interrupted: compared up to the recording's {reached.isoformat()}")
    diff = diff_replay(
        recorded,
        fresh,
        rewriter,
        timing_tolerance_s=tolerance,
        timed=not as_fast_as_replies,
        time_tolerance=timedelta(seconds=max(tolerance, 1.0)),
    )
    if epoch is not None and rewriter.clock_learned:  # the rig's word against the backend's
        skew = (rewriter.clock_offset - (epoch - plan.start)).total_seconds()
        if abs(skew) > tolerance:
            run.notes.append(
                f"the backend's time sync puts its clock {skew:+.1f} s off --backend-epoch "
                "(body times follow the backend's clock)"
            )
    if run.interrupted:
        code = ExitCode.INTERRUPTED
    else:
        code = ExitCode.PASS if diff.same else ExitCode.EXPECTATIONS_FAILED
    print_diff(console, diff, run, rewriter, plan, options)
    path = write_outputs(out, capture, backend, options, run, diff, rewriter, int(code), tolerance)
    console.print(f"report: {path}")
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``replay`` to the ``simrig`` CLI."""
    app.command()(replay)
