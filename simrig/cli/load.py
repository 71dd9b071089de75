"""``simrig load``: load-test a YKC backend with many piles of the real firmware models.

Exit 0 every threshold met, 1 a threshold failed, 2 bad input, 3 backend unavailable
(no pile ever logged in), 4 interrupted (the figures so far are still written).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from simrig.exit_codes import ExitCode

from .common import ControlOption, fail

if TYPE_CHECKING:
    from simrig.control import BackendControl
    from simrig.load.capture import CaptureSpec
    from simrig.load.plan import LoadPlan, Storm
    from simrig.load.report import Thresholds

__all__ = ["load", "register"]

DEFAULT_OUT = Path("out/load")


def _seconds(text: str, option: str) -> float:
    from simrig.scenarios.schema import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected a duration like 90s, 10m, 1h") from None


def _minutes_range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    try:
        lo, hi = float(low), float(high if sep else low)
    except ValueError:
        raise ValueError(f"--session-minutes {text!r}: expected MIN-MAX, e.g. 10-40") from None
    if not 0 < lo <= hi:
        raise ValueError(f"--session-minutes {text!r}: need 0 < MIN <= MAX")
    return lo, hi


def load(
    piles: Annotated[int, typer.Option(min=1, max=200_000, help="Piles in all.")] = 100,
    profile: Annotated[
        list[str] | None,
        typer.Option(help="Firmware profile; repeat with PROFILE=SHARE for a mix."),
    ] = None,
    backend: Annotated[str, typer.Option(help="The backend under load: tcp://host:port")] = "",
    duration: Annotated[str, typer.Option(help="Run length (real time), e.g. 10m.")] = "5m",
    ramp: Annotated[
        str,
        typer.Option(
            help="Piles power up uniformly over this (real time); logins and "
            "heartbeat phases spread like a fleet's."
        ),
    ] = "60s",
    sessions_per_pile_hour: Annotated[
        float, typer.Option(min=0.0, max=60, help="Mean session arrivals per pile and hour.")
    ] = 0.5,
    session_minutes: Annotated[
        str, typer.Option(help="Session length the users want, MIN-MAX minutes.")
    ] = "10-40",
    app_share: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of app sessions (need --backend-control)."),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed (same seed, same sessions and ramp).")] = 1,
    first_pile_no: Annotated[int, typer.Option(min=1, help="Number of the first pile.")] = (
        32010200000001
    ),
    latency_ms: Annotated[float, typer.Option(min=0, help="Link latency each way.")] = 0.0,
    reply_delay_ms: Annotated[
        float, typer.Option(min=0, help="Extra delay on every backend → pile byte.")
    ] = 0.0,
    jitter_ms: Annotated[float, typer.Option(min=0, help="Link jitter each way.")] = 0.0,
    loss: Annotated[float, typer.Option(min=0, max=1, help="Link loss per write.")] = 0.0,
    storm: Annotated[
        str | None,
        typer.Option(help="Outage storms SHARE%/DOWN/EVERY, e.g. 10%/60s/15m (link model)."),
    ] = None,
    backend_control: ControlOption = None,
    site_toml: Annotated[
        Path | None,
        typer.Option(
            help="Write the site (piles, cards, tariff) as a platform.toml for "
            "simrig platform serve --config, and exit."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes (one per core).")] = 1,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Scenario speed (a backend at the same --speed).")
    ] = 1.0,
    max_p99_ms: Annotated[
        list[str] | None,
        typer.Option(help="TYPE=MS: fail when the backend's p99 of TYPE exceeds MS."),
    ] = None,
    max_lost_bills: Annotated[
        int | None, typer.Option(min=0, help="Fail above this many bills never acked.")
    ] = None,
    max_login_failures: Annotated[
        int | None, typer.Option(min=0, help="Fail above this many failed connects/logins.")
    ] = None,
    status_every: Annotated[
        float, typer.Option(min=0.5, help="Seconds between status lines (not a TTY).")
    ] = 10.0,
    live: Annotated[
        bool | None, typer.Option("--live/--no-live", help="Live dashboard (default on a TTY).")
    ] = None,
    capture: Annotated[
        str,
        typer.Option(
            help="none, or sample: capture.pcapng + frames.jsonl of --capture-piles piles "
            "(with --workers: capture-wK.*, per worker)."
        ),
    ] = "none",
    capture_piles: Annotated[
        int, typer.Option(min=1, help="Piles captured, spread evenly by pile number.")
    ] = 10,
    capture_bytes: Annotated[
        int, typer.Option(min=0, help="Bytes captured per sampled pile at most (0: no limit).")
    ] = 1_000_000,
    out: Annotated[Path, typer.Option(help="Folder for load.json and load.png.")] = DEFAULT_OUT,
) -> None:
    """Load-test a YKC backend: N piles of the real firmware models, streamed metrics.

    Reply latency per frame type (HDR histograms) at the backend's socket and as the
    piles see it, piles connected, reconnects, frames/s, bills uploaded / acked / never
    acked, backend deviations (sampled piles) and the driver's own timer lag. Exit 0 pass,
    1 a threshold failed, 2 bad input, 3 backend unavailable, 4 interrupted."""
    from simrig.control import load_control
    from simrig.errors import BackendError
    from simrig.load.plan import LinkFaults, LoadPlan, Storm, parse_mix
    from simrig.load.report import Thresholds, parse_p99
    from simrig.load.runner import parse_tcp
    from simrig.scenarios import ScenarioError

    try:
        groups = parse_mix(profile or ["sinexcel-dc@2090404"], piles, first_pile_no)
        faults = LinkFaults(
            latency_s=latency_ms / 1000 * speed,
            reply_delay_s=reply_delay_ms / 1000 * speed,
            jitter_s=jitter_ms / 1000 * speed,
            loss=loss,
            storm=None if storm is None else _scaled(Storm.parse(storm), speed),
        )
        plan = LoadPlan(
            groups=tuple(groups),
            duration_s=_seconds(duration, "--duration") * speed,
            ramp_s=_seconds(ramp, "--ramp") * speed,
            sessions_per_pile_hour=sessions_per_pile_hour,
            session_minutes=_minutes_range(session_minutes),
            app_share=app_share,
            seed=seed,
            speed=speed,
            faults=faults,
        )
        if plan.ramp_s >= plan.duration_s:
            raise ValueError("--ramp must be shorter than --duration")
        if site_toml is not None:
            _write_site(plan, site_toml)
            return
        parse_tcp(backend)
        if capture not in ("none", "sample"):
            raise ValueError(f"--capture {capture!r}: expected none or sample")
        sampled = capture == "sample"
        spec = _capture_spec(plan, out, capture_piles, capture_bytes) if sampled else None
        limits = Thresholds(parse_p99(max_p99_ms or []), max_lost_bills, max_login_failures)
        control = load_control(backend_control, backend) if backend_control else None
        if plan.app_share > 0 and control is None:
            raise ValueError(
                f"--app-share {app_share:g}: app sessions need the backend's API: give "
                "--backend-control FILE.toml|MODULE:CALLABLE, or --app-share 0"
            )
    except (ValueError, ScenarioError, BackendError, OSError) as exc:
        fail(str(exc))
    show_live = sys.stdout.isatty() if live is None else live
    code = _run(plan, backend, control, backend_control, workers, limits, out,
                show_live, status_every, spec)  # fmt: skip
    raise typer.Exit(code)


def _capture_spec(plan: LoadPlan, out: Path, piles: int, max_bytes: int) -> CaptureSpec:
    from simrig.load.capture import CaptureSpec, sample_piles

    return CaptureSpec(out, tuple(sample_piles(plan.pile_numbers(), piles)), max_bytes)


def _scaled(storm: Storm, speed: float) -> Storm:
    from simrig.load.plan import Storm

    return Storm(storm.share, storm.down_s * speed, storm.every_s * speed)


def _write_site(plan: LoadPlan, path: Path) -> None:
    from datetime import datetime

    from simrig.control.platform_toml import platform_toml
    from simrig.sim.world import site_from_scenario

    site = site_from_scenario(plan.scenario(datetime.now(), all_users=True))
    path.write_text(platform_toml(site), encoding="utf-8")
    Console(stderr=True).print(f"site: {path} ({plan.piles} piles, {len(site.users)} users)")


def _run(
    plan: LoadPlan,
    backend: str,
    control: BackendControl | None,
    control_spec: str | None,
    workers: int,
    limits: Thresholds,
    out: Path,
    show_live: bool,
    status_every: float,
    capture: CaptureSpec | None = None,
) -> int:
    """Run, show, write, judge; the exit code."""
    import time

    from rich.live import Live as RichLive

    from simrig.errors import BackendError
    from simrig.load.report import (
        Live,
        check_thresholds,
        kinds_table,
        plot,
        summary,
        write_json,
    )
    from simrig.load.runner import LoadFigures, run_load
    from simrig.load.workers import raise_open_files, run_workers

    console = Console(stderr=not show_live)
    view = Live(plan.duration_s, plan.piles, plan.speed)
    notes: list[str] = []
    last_line = [0.0]
    rich_live = (
        RichLive(view.renderable(), console=console, refresh_per_second=2) if (show_live) else None
    )

    def on_tick(row: dict[str, object]) -> None:
        view.update(row)
        if rich_live is not None:
            rich_live.update(view.renderable())
        elif time.monotonic() - last_line[0] >= status_every:
            last_line[0] = time.monotonic()
            print(view.line(), file=sys.stderr, flush=True)

    try:
        if rich_live is not None:
            rich_live.start()
        if workers == 1:
            note = raise_open_files(plan.piles)
            if note:
                notes.append(note)
            figures: LoadFigures = run_load(
                plan, backend, control=control, on_tick=on_tick, capture=capture
            )
        else:
            if control is not None:  # provision once, the workers only play the app
                from datetime import datetime

                from simrig.sim.world import site_from_scenario

                control.provision(site_from_scenario(plan.scenario(datetime.now(), all_users=True)))
            figures, worker_notes = run_workers(
                plan, backend, workers, control_spec=control_spec, on_tick=on_tick,
                capture=capture,
            )  # fmt: skip
            notes += worker_notes
    except (BackendError, OSError, RuntimeError) as exc:
        if rich_live is not None:
            rich_live.stop()
        fail(str(exc))
    finally:
        if rich_live is not None:
            rich_live.stop()
    failed = check_thresholds(figures, limits)
    notes += figures.captures
    if plan.speed != 1:
        notes.append(f"speed {plan.speed:g}: the backend must run at the same --speed")
    data = summary(figures, failed, notes)
    path = write_json(data, out)
    try:
        png = plot(data, out)
    except Exception as exc:  # a plot must not cost the figures
        notes.append(f"plot failed: {exc}")
        png = None
    report = Console()
    report.print(kinds_table(data))
    c = figures.counters
    report.print(
        f"piles {figures.piles}: logins {c['logins']}, reconnects {c['reconnects']}, "
        f"login failures {data['login_failures']}, frames up {c['frames_up']} "
        f"down {c['frames_down']}; bills uploaded {c['bills_uploaded']}, acked "
        f"{c['bills_acked']}, re-sent {c['bills_resent']}, never acked "
        f"{figures.bills_never_acked}, in flight at the end {figures.bills_in_flight}; "
        f"driver timer lag p99 {data['timer_lag_ms']['p99']:.1f} ms"
    )
    if figures.deviations:
        report.print(
            f"backend deviations (on {figures.deviation_piles} sampled piles): "
            + ", ".join(f"{k} ×{v}" for k, v in sorted(figures.deviations.items()))
        )
    for note in notes:
        report.print(f"note: {note}")
    report.print(f"load report: {path}" + (f", {png}" if png else ""))
    if figures.interrupted:
        Console(stderr=True).print("[yellow]interrupted[/yellow]")
        return int(ExitCode.INTERRUPTED)
    if c["logins"] == 0:
        reason = figures.stopped_early or "no pile ever logged in"
        Console(stderr=True).print(f"[red]backend unavailable:[/red] {backend}: {reason}")
        return int(ExitCode.BACKEND_UNAVAILABLE)
    for line in failed:
        report.print(f"[red]threshold failed:[/red] {line}")
    return int(ExitCode.EXPECTATIONS_FAILED if failed else ExitCode.PASS)


def register(app: typer.Typer) -> None:
    """Add ``load`` to the ``simrig`` CLI."""
    app.command()(load)
