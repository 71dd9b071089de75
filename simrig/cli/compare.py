"""``simrig compare``: firmware A/B, the same fleet workload on each profile, with
Wilson intervals, a significance verdict per anomaly label, ``summary.txt``, a chart."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from simrig.report.progress import progress
from simrig.sim.results import RunResult

from .common import (
    DEFAULT_OUT,
    BackendOption,
    ControlOption,
    EpochOption,
    FormatOption,
    OutOption,
    ProfileDirOption,
    SpeedOption,
    StartMonotonicOption,
    ViewArgOption,
    ViewOption,
    backend_driver,
    check_out,
    fail,
    interruptible,
    make_console,
    output_format,
    parse_epoch,
    print_throughput,
    unavailable,
)
from .fleet import SHARD_PILES, FleetPlan, merge_arms, shards_every_arm_finished
from .fleet_dask import ClusterUnavailable
from .workload import (
    AppShareOption,
    DaysOption,
    DrainOption,
    FirstPileOption,
    PilesOption,
    RateOption,
    SeedOption,
    WorkloadRun,
    drained,
    refuse_app_steps,
    run_scenarios,
    side_by_side,
    users_in_use,
    workload_spec,
)

__all__ = ["ABReport", "ab_document", "compare", "register"]

#: results.json holds every session; above this many it is not written (summary.txt and
#: ab.json hold the A/B)
RESULTS_JSON_MAX_SESSIONS = 5000
#: why a partial A/B was cut short (its header says "the compare was ...")
INTERRUPTED = "interrupted (Ctrl-C or SIGTERM)"
CLUSTER_LOST = "cut short (the Dask cluster was lost)"
#: a partial compare in which no shard was finished by every profile
NO_AB = "No A/B: no shard was finished by every profile before the interruption."

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
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        help="Run the embedded fleet's shards on a Dask cluster instead: tcp://HOST:PORT "
        "of its scheduler (every worker must run this very simrig; start workers with "
        "--nthreads 1), or local:N for N worker processes on this machine. Results "
        "identical to --jobs 1. Needs pip install 'simrig[dask]'.",
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
    scheduler: SchedulerOption = None,
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
    fmt: FormatOption = "",
) -> None:
    """Firmware A/B: the same fleet workload on each profile; per anomaly label the rate
    with its Wilson 95 % interval and each profile against the first (Newcombe interval,
    Fisher's exact test, Holm-adjusted verdict). Writes summary.txt, ab.json, compare.png;
    --format json prints ab.json's document on stdout.

    Each profile's piles are numbered apart (+10000 per profile) and draw their own
    firmware randomness; every pile serves its own users. On embedded the fleet runs in
    shards of 16 piles in virtual time (--jobs N processes, or --scheduler: a Dask
    cluster); on any other backend all profiles run side by side in one real-time run at
    --speed. Exit 0 pass, 1 expectations failed, 2 bad input, 3 backend (or scheduler)
    unreachable or incompatible, 4 interrupted."""
    from simrig.cli.fleet import arm_scenarios, plan_fleet, run_fleet
    from simrig.firmware_models import ProfileError, load_profile
    from simrig.report import exit_code
    from simrig.scenarios import ScenarioError
    from simrig.sim.runner import BackendError

    dirs = tuple(profile_dir or ())
    try:
        fmt = output_format(fmt)
        console = make_console(fmt)
        check_out(out)
        if backend != "embedded" and jobs > 1:
            raise ValueError(f"--jobs {jobs}: shards run on the embedded platform only")
        if scheduler is not None:
            check_scheduler(scheduler, backend, jobs)
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
        ab = ABReport(
            out, console, fmt, profile, spec.first_pile_no, plan, backend,
            f"({plan.piles} piles x {days:g} days, {sessions_per_pile_day:g} sessions/pile-day, "
            f"seed {seed}), backend {backend}",
        )  # fmt: skip
        if backend == "embedded":
            each = len(plan.shards())
            shards = f"{each} shard" + ("s" if each > 1 else "")
            label = f"{len(profile)} x {plan.sessions:,} sessions ({shards} each)"
            with interruptible(ab), progress(console, label, each * len(profile)) as bar:
                results = run_fleet(
                    plan,
                    profile,
                    jobs=jobs,
                    drain_s=drain_s,
                    profile_dirs=dirs,
                    progress=lambda done, _total: bar.update(done),
                    finished=ab.shards,
                    scheduler=scheduler,
                )
        else:
            scenarios = arm_scenarios(plan, profile, None)
            for scenario in scenarios:
                refuse_app_steps(scenario, how, app_share)
            name = f"fleet:{' vs '.join(profile)}:{plan.sessions}s"
            merged = users_in_use(side_by_side(scenarios, name))
            results = run_scenarios(
                [merged if drain_s is None else drained(merged, drain_s)],
                how,
                console=console,
                report=ab,
            )
    except ClusterUnavailable as exc:
        if ab.shards:  # the shards the cluster finished before it was lost are kept
            ab.write(None, cause=CLUSTER_LOST)
        unavailable(str(exc))
    except (ScenarioError, BackendError, ProfileError, ValueError, OSError) as exc:
        fail(str(exc))
    ab.write_ab(results)
    raise typer.Exit(exit_code(results))


@dataclass
class ABReport:
    """Where ``compare`` writes its A/B — summary.txt, ab.json, compare.png, results.json
    (small fleets) — at the end, or partial on Ctrl-C/SIGTERM (:func:`interruptible`):
    then the shards every profile finished (embedded) or the run cut short (any other
    backend), marked PARTIAL, and exit 4."""

    out: Path
    console: Console
    fmt: str
    profiles: Sequence[str]
    first_pile_no: int
    plan: FleetPlan
    backend: str
    workload: str
    #: embedded: each finished shard's run as ``(arm, shard)`` (:func:`run_fleet`)
    shards: dict[tuple[int, int], RunResult] = field(default_factory=dict)
    #: any other backend: the runs done (:func:`run_scenarios` appends)
    done: list[RunResult] = field(default_factory=list)

    def write(self, cut: RunResult | None, cause: str = INTERRUPTED) -> None:
        """The partial A/B (``cut``: the run cut short, judged as far as it got;
        ``cause``: why it ended early)."""
        if self.backend == "embedded":
            common = shards_every_arm_finished(self.profiles, self.shards)
            total = len(self.plan.shards())
            results = merge_arms(self.plan, self.profiles, self.shards, common)
            each = ", ".join(
                f"{name} {sum(1 for arm, _ in self.shards if arm == k)}"
                for k, name in enumerate(self.profiles)
            )
            what = (
                f"{len(common)} of {total} shards of {SHARD_PILES} piles finished by every "
                f"profile (finished: {each}); the A/B below holds these"
            )
        else:
            results = [*self.done, *([cut] if cut is not None else [])]
            what = "the sessions judged before the run was cut short"
        self.write_ab(results, partial=what, cause=cause)

    def write_ab(
        self, results: Sequence[RunResult], partial: str = "", cause: str = INTERRUPTED
    ) -> None:
        """Write and print the A/B of ``results``; ``partial``: what a cut-short run
        holds, ``cause``: why it was cut short."""
        from simrig.cli.fleet import arm_stats
        from simrig.report import write_results_json
        from simrig.report.ab import ab_rows, summary_text
        from simrig.report.ab_chart import ab_chart_png
        from simrig.report.folder import print_diagnostics

        out, console = self.out, self.console
        if self.fmt != "json":
            print_diagnostics(results, console)
        stats = arm_stats(results, self.profiles, self.first_pile_no)
        sessions = stats[0].sessions if stats else 0
        header = [
            f"Firmware A/B: {sessions if partial else self.plan.sessions} sessions per profile "
            f"{self.workload}",
            "",
        ]
        if partial:
            header[:0] = [
                f"PARTIAL REPORT: the compare was {cause}; {partial}.",
                "",
            ]
        rows = ab_rows(stats) if sessions or not partial else []
        text = summary_text(stats, header) if rows else "\n".join([*header, NO_AB, ""])
        out.mkdir(parents=True, exist_ok=True)
        for stale in ("summary.txt", "ab.json", "compare.png", "results.json"):
            (out / stale).unlink(missing_ok=True)  # a partial report never mixes with an old one
        (out / "summary.txt").write_text(text, encoding="utf-8")
        document = ab_document(stats, rows, partial, cause)
        (out / "ab.json").write_text(json.dumps(document, indent=1) + "\n")
        title = f"Firmware A/B, PARTIAL ({cause.split(' (')[0]}): {partial}" if partial else ""
        chart = ab_chart_png(stats, out / "compare.png", title) if sessions else None
        total = sum(s.sessions for s in stats)
        if total <= RESULTS_JSON_MAX_SESSIONS:
            write_results_json(results, out / "results.json", interrupted=bool(partial))
        if self.fmt == "json":
            sys.stdout.write(json.dumps({**document, "report": str(out)}) + "\n")
            return
        if self.fmt == "plain":
            console.print(Text(text.rstrip("\n")), crop=False, soft_wrap=True)
        else:
            width = max(120, max(len(line) for line in text.splitlines()))
            Console(width=width).print(text, highlight=False, markup=False)
        if total > RESULTS_JSON_MAX_SESSIONS:
            console.print(
                f"results.json not written ({total} sessions; summary.txt and ab.json hold the A/B)"
            )
        print_throughput(results, console)
        where = f"summary: {out / 'summary.txt'}" + (f"  chart: {chart}" if chart else "")
        console.print(Text(("partial " if partial else "") + where), overflow="fold")


def ab_document(
    stats: Sequence, rows: Sequence, partial: str = "", cause: str = INTERRUPTED
) -> dict[str, object]:
    """ab.json (and ``--format json``'s stdout): per profile its sessions; per label the
    counts, Wilson intervals and each profile against the first. ``partial``: what a
    compare cut short holds (empty: the whole fleet), ``cause``: why it was cut short."""
    return {
        "partial": bool(partial),
        **({"partial_holds": partial, "partial_cause": cause} if partial else {}),
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


def check_scheduler(scheduler: str, backend: str, jobs: int) -> None:
    """``--scheduler``: a valid address, the embedded fleet, Dask installed; ValueError
    (one line) otherwise."""
    from .fleet_dask import parse_scheduler, require_dask

    parse_scheduler(scheduler)
    if backend != "embedded":
        raise ValueError(f"--scheduler {scheduler}: shards run on the embedded platform only")
    if jobs > 1:
        raise ValueError(f"--scheduler {scheduler} with --jobs {jobs}: choose one")
    require_dask()


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the ``simrig`` CLI."""
    app.command()(compare)
