"""``simrig compare``: firmware A/B, the same fleet workload on each profile, with
Wilson intervals, a significance verdict per anomaly label, ``summary.txt``, a chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console

from .common import (
    DEFAULT_OUT,
    BackendOption,
    ControlOption,
    EpochOption,
    OutOption,
    ProfileDirOption,
    SpeedOption,
    ViewArgOption,
    ViewOption,
    backend_driver,
    check_out,
    fail,
    interruptible,
    parse_epoch,
    print_throughput,
    progress_bar,
)
from .workload import (
    AppShareOption,
    DaysOption,
    DrainOption,
    FirstPileOption,
    PilesOption,
    RateOption,
    SeedOption,
    StartMonotonicOption,
    WorkloadRun,
    drained,
    refuse_app_steps,
    run_scenarios,
    side_by_side,
    users_in_use,
    workload_spec,
)

__all__ = ["compare", "register"]

#: results.json holds every session; above this many it is not written (summary.txt and
#: ab.json hold the A/B)
RESULTS_JSON_MAX_SESSIONS = 5000

SessionsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=1_000_000,
        help="Fleet size in sessions per profile (as many piles as --days need); "
        "default: --piles x --days.",
    ),
]
JobsOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        help="Worker processes for the embedded fleet (shards of 16 piles; results "
        "identical to --jobs 1).",
    ),
]


def compare(
    profile: Annotated[
        list[str], typer.Option(help="Firmware profiles (names or .toml files): A, B, ...")
    ],
    piles: PilesOption = 16,
    days: DaysOption = 30.0,
    sessions: SessionsOption = None,
    jobs: JobsOption = 1,
    seed: SeedOption = 1,
    out: OutOption = DEFAULT_OUT,
    backend: BackendOption = "embedded",
    speed: SpeedOption = 1.0,
    sessions_per_pile_day: RateOption = 1.0,
    app_share: AppShareOption = 0.6,
    first_pile_no: FirstPileOption = None,
    drain_minutes: DrainOption = None,
    backend_control: ControlOption = None,
    backend_epoch: EpochOption = None,
    start_monotonic: StartMonotonicOption = None,
    view: ViewOption = None,
    view_arg: ViewArgOption = None,
    profile_dir: ProfileDirOption = None,
) -> None:
    """Firmware A/B: the same fleet workload on each profile; per anomaly label the rate
    with its Wilson 95 % interval and each profile against the first (Newcombe interval,
    Fisher's exact test, Holm-adjusted verdict). Writes summary.txt, ab.json, compare.png.

    Each profile's piles are numbered apart (+10000 per profile) and draw their own
    firmware randomness; every pile serves its own users. On embedded the fleet runs in
    shards of 16 piles in virtual time (--jobs N processes); on any other backend all
    profiles run side by side in one real-time run at --speed. Exit 0 pass, 1
    expectations failed, 2 bad input, 3 backend unreachable or incompatible, 4
    interrupted."""
    from simrig.cli.fleet import arm_scenarios, arm_stats, plan_fleet, run_fleet
    from simrig.firmware_models import ProfileError, load_profile
    from simrig.report import exit_code, write_results_json
    from simrig.report.ab import ab_rows, summary_text
    from simrig.report.ab_chart import ab_chart_png
    from simrig.report.folder import print_diagnostics
    from simrig.scenarios import ScenarioError
    from simrig.sim.runner import BackendError

    console = Console()
    dirs = tuple(profile_dir or ())
    try:
        check_out(out)
        if backend != "embedded" and jobs > 1:
            raise ValueError(f"--jobs {jobs}: shards run on the embedded platform only")
        for name in profile:
            load_profile(name, dirs)
        pinned = parse_epoch(backend_epoch)
        control, view_factory = backend_driver(backend, backend_control, view, view_arg)
        spec = workload_spec(
            piles=piles,
            days=days,
            seed=seed,
            sessions_per_pile_day=sessions_per_pile_day,
            app_share=app_share,
            first_pile_no=first_pile_no,
            epoch=pinned,
        )
        plan = plan_fleet(spec, sessions)
        drain_s = None if drain_minutes is None else 60 * drain_minutes
        how = WorkloadRun(
            backend=backend,
            speed=speed,
            control=control,
            view_factory=view_factory,
            backend_epoch=pinned,
            start_monotonic=start_monotonic,
            profile_dirs=dirs,
            drain_s=drain_s,
        )
        if backend == "embedded":
            with interruptible(), progress_bar(console) as bar:
                task = bar.add_task(f"{len(profile)} x {plan.sessions} sessions", total=1.0)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done / total)

                results = run_fleet(
                    plan, profile, jobs=jobs, drain_s=drain_s, profile_dirs=dirs, progress=advance
                )
        else:
            scenarios = arm_scenarios(plan, profile, None)
            for scenario in scenarios:
                refuse_app_steps(scenario, how, app_share)
            name = f"fleet:{' vs '.join(profile)}:{plan.sessions}s"
            merged = users_in_use(side_by_side(scenarios, name))
            results = run_scenarios([merged if drain_s is None else drained(merged, drain_s)], how)
    except (ScenarioError, BackendError, ProfileError, ValueError, OSError) as exc:
        fail(str(exc))
    print_diagnostics(results, console)
    stats = arm_stats(results, profile, spec.first_pile_no)
    header = [
        f"Firmware A/B: {plan.sessions} sessions per profile ({plan.piles} piles x "
        f"{days:g} days, {sessions_per_pile_day:g} sessions per pile-day, seed {seed}), "
        f"backend {backend}",
        "",
    ]
    text = summary_text(stats, header)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text(text, encoding="utf-8")
    (out / "ab.json").write_text(json.dumps(_ab_document(stats, ab_rows(stats)), indent=1) + "\n")
    chart = ab_chart_png(stats, out / "compare.png")
    Console(width=max(120, max(len(line) for line in text.splitlines()))).print(
        text, highlight=False, markup=False
    )
    total = sum(s.sessions for s in stats)
    if total <= RESULTS_JSON_MAX_SESSIONS:
        write_results_json(results, out / "results.json")
    else:
        console.print(
            f"results.json not written ({total} sessions; summary.txt and ab.json hold the A/B)"
        )
    print_throughput(results, console)
    console.print(f"summary: {out / 'summary.txt'}  chart: {chart}")
    raise typer.Exit(exit_code(results))


def _ab_document(stats: Sequence, rows: Sequence) -> dict[str, object]:
    return {
        "profiles": [{"profile": s.profile, "sessions": s.sessions} for s in stats],
        "labels": [
            {
                "label": r.label,
                "meaning": r.meaning,
                "counts": r.counts,
                "wilson95": [list(i) for i in r.intervals],
                "against_first": [
                    None
                    if c is None
                    else {
                        "diff": c.diff,
                        "newcombe95": [c.low, c.high],
                        "p": c.p,
                        "p_holm": c.p_holm,
                        "verdict": c.verdict,
                    }
                    for c in r.comparisons
                ],
            }
            for r in rows
        ],
    }


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the ``simrig`` CLI."""
    app.command()(compare)
