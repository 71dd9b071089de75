"""Fleet A/B on the embedded platform, sharded across processes (``simrig compare``).

The fleet is cut into fixed shards of :data:`SHARD_PILES` piles, whatever ``--jobs``
says; each shard is one scenario on its own embedded platform in virtual time, its piles
independent (each pile's sessions from its own stream ``workload:SEED:INDEX`` and its own
users, :func:`~simrig.scenarios.workload.fleet_scenario`). ``--jobs N`` only spreads
the shards over N worker processes; results are merged in shard order, so they are the
same, byte for byte, as with ``--jobs 1``.

Profile ``k`` (0 = A) numbers its piles ``first + k × PILE_NO_STRIDE + index``: the
firmware draws (``random.Random(f"{seed}:{pile_no}")``) of A and B are independent while
both serve the same sessions — and a profile compared with itself is two independent
samples, not one sample twice.
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from multiprocessing import get_context
from multiprocessing.pool import Pool
from pathlib import Path
from typing import TYPE_CHECKING

from simrig.scenarios import Scenario
from simrig.scenarios.workload import WorkloadSpec, fleet_scenario, pile_visit_count
from simrig.sim.results import RunResult

if TYPE_CHECKING:
    from types import FrameType

    from simrig.report.stats import ProfileStats

from .workload import MAX_PILE_NO, PILE_NO_STRIDE, drained

__all__ = [
    "SHARD_PILES",
    "FleetPlan",
    "arm_scenarios",
    "arm_stats",
    "merge_arms",
    "merge_shards",
    "pile_stream",
    "plan_fleet",
    "platform_flags",
    "run_fleet",
    "shards_every_arm_finished",
]

#: piles per shard (fixed: the partition never depends on ``--jobs``)
SHARD_PILES = 16


def pile_stream(seed: int, index: int) -> random.Random:
    """The workload stream of fleet pile ``index`` (independent of every other pile)."""
    return random.Random(f"workload:{seed}:{index}")


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """The fleet: ``piles`` piles of ``spec``; the last pile keeps ``last_limit`` visits
    (None: all) so that the fleet has exactly ``sessions`` visits with ``--sessions``."""

    spec: WorkloadSpec
    piles: int
    last_limit: int | None
    sessions: int

    def shards(self) -> list[list[tuple[int, int | None]]]:
        """``(pile index, visit limit)`` per shard, in order."""
        piles = [(i, self.last_limit if i == self.piles - 1 else None) for i in range(self.piles)]
        return [piles[k : k + SHARD_PILES] for k in range(0, len(piles), SHARD_PILES)]


def plan_fleet(spec: WorkloadSpec, sessions: int | None) -> FleetPlan:
    """``spec.piles`` piles, or (``sessions``) as many piles as hold that many visits
    over ``spec.days``; ValueError (one line) if the fleet cannot be numbered."""
    if sessions is None:
        total = sum(pile_visit_count(spec, pile_stream(spec.seed, i)) for i in range(spec.piles))
        plan = FleetPlan(spec, spec.piles, None, total)
    else:
        total, index = 0, 0
        while True:
            if index >= PILE_NO_STRIDE:
                raise ValueError(
                    f"--sessions {sessions}: needs over {PILE_NO_STRIDE} piles at "
                    f"{spec.sessions_per_pile_day:g} sessions per pile-day over {spec.days:g} "
                    "days: raise --days or --sessions-per-pile-day"
                )
            visits = pile_visit_count(spec, pile_stream(spec.seed, index))
            index += 1
            if total + visits >= sessions:
                plan = FleetPlan(spec, index, sessions - total, sessions)
                break
            total += visits
    return plan


def arm_spec(plan: FleetPlan, profile: str, arm: int) -> WorkloadSpec:
    """Profile ``arm``'s spec: its piles numbered :data:`PILE_NO_STRIDE` apart."""
    spec = replace(
        plan.spec, profile=profile, first_pile_no=plan.spec.first_pile_no + arm * PILE_NO_STRIDE
    )
    if spec.first_pile_no + plan.piles - 1 > MAX_PILE_NO:
        raise ValueError(f"--first-pile-no {plan.spec.first_pile_no}: a pile has over 14 digits")
    return spec


def shard_scenario(
    plan: FleetPlan, profile: str, arm: int, shard: int, drain_s: float | None
) -> Scenario:
    spec = arm_spec(plan, profile, arm)
    piles = [(i, pile_stream(plan.spec.seed, i), limit) for i, limit in plan.shards()[shard]]
    name = f"fleet:{profile}:{plan.sessions}s:shard{shard:04d}"
    scenario = fleet_scenario(spec, piles, name, seed=plan.spec.seed)
    return scenario if drain_s is None else drained(scenario, drain_s)


def arm_scenarios(
    plan: FleetPlan, profiles: Sequence[str], drain_s: float | None
) -> list[Scenario]:
    """Every profile's whole fleet as one scenario each (a real backend runs them)."""
    out = []
    for arm, profile in enumerate(profiles):
        spec = arm_spec(plan, profile, arm)
        piles = [
            (i, pile_stream(plan.spec.seed, i), lim) for shard in plan.shards() for i, lim in shard
        ]
        scenario = fleet_scenario(spec, piles, f"fleet:{profile}:{plan.sessions}s", plan.spec.seed)
        out.append(scenario if drain_s is None else drained(scenario, drain_s))
    return out


@dataclass(frozen=True, slots=True)
class ShardJob:
    plan: FleetPlan
    profile: str
    arm: int
    shard: int
    drain_s: float | None
    profile_dirs: tuple[Path, ...]


def run_shard(job: ShardJob) -> RunResult:
    """One shard on its own embedded platform; the result without frames, truth samples
    and events but the platform's own anomaly flags (the verdicts carry the rest). BMS
    telemetry goes on paper and no truth is sampled: the shard keeps neither, and the
    verdicts are the same (tests/cli/test_fleet_paper.py)."""
    from simrig.sim.keep import VERDICTS_ONLY
    from simrig.sim.runner import run_scenario

    scenario = shard_scenario(job.plan, job.profile, job.arm, job.shard, job.drain_s)
    result = run_scenario(
        scenario,
        backend="embedded",
        profile_dirs=job.profile_dirs,
        keep=VERDICTS_ONLY,
    )
    flags = [e for e in result.events if e.kind in ("anomaly", "bill")]  # the platform's own
    return replace(result, chunks=[], paper_realtime=[], events=flags, samples=[])


def merge_shards(results: Sequence[RunResult], name: str) -> RunResult:
    """One profile's shards (in shard order) as one run."""
    first = results[0]
    merged = replace(
        first,
        scenario_name=name,
        duration_s=max(r.duration_s for r in results),
        profiles={p: n for r in results for p, n in r.profiles.items()},
        verdicts=[v for r in results for v in r.verdicts],
        expectations=[e for r in results for e in r.expectations],
        offline={p: w for r in results for p, w in r.offline.items()},
        events=[e for r in results for e in r.events],
        wall_s=sum(r.wall_s for r in results),
        frames=sum(r.frames for r in results),
        elided_heartbeats=sum(r.elided_heartbeats for r in results),
        diagnostics=[d for r in results for d in r.diagnostics],
        deviations={p: d for r in results for p, d in r.deviations.items()},
        stopped_early=next((r.stopped_early for r in results if r.stopped_early), ""),
    )
    return merged


def _leave_sigint_to_the_parent() -> None:
    """A worker ignores Ctrl-C (a terminal sends it to the whole process group): the
    parent stops, reports, and terminates the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_pool(jobs: int) -> Pool:
    """``jobs`` spawned workers; Ctrl-C or SIGTERM meanwhile is acted on once all have
    their start-up data. (Acted on at once, it could land between spawning a worker and
    writing to it: the worker read an empty pipe and printed a traceback. A signal mask
    is not enough: another thread, e.g. the progress display's, takes the signal.)"""
    caught: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    ending = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, note) for signum in ending}
    try:
        pool = get_context("spawn").Pool(jobs, initializer=_leave_sigint_to_the_parent)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if caught:
        pool.terminate()
        signal.raise_signal(caught[0])
    return pool


def _run_numbered_shard(numbered: tuple[int, ShardJob]) -> tuple[int, RunResult]:
    k, job = numbered
    return k, run_shard(job)


def run_fleet(
    plan: FleetPlan,
    profiles: Sequence[str],
    *,
    jobs: int = 1,
    drain_s: float | None = None,
    profile_dirs: tuple[Path, ...] = (),
    progress: Callable[[int, int], None] | None = None,
    finished: dict[tuple[int, int], RunResult] | None = None,
    scheduler: str | None = None,
) -> list[RunResult]:
    """Every profile's fleet, one merged run per profile (in ``profiles`` order);
    ``scheduler``: on a Dask cluster (:mod:`.fleet_dask`) instead of ``jobs`` processes.

    Shards run shard by shard, every profile's copy of a shard in turn, so that a run
    cut short (Ctrl-C, SIGTERM) has the same shards done for each profile: ``finished``
    receives each shard's result as ``(arm, shard)`` as it ends (:func:`merge_arms`)."""
    shards = len(plan.shards())
    todo = [
        ShardJob(plan, profile, arm, shard, drain_s, profile_dirs)
        for shard in range(shards)
        for arm, profile in enumerate(profiles)
    ]
    for arm, profile in enumerate(profiles):
        arm_spec(plan, profile, arm)  # numbering checked before any work
    done = {} if finished is None else finished
    if scheduler is not None:
        from .fleet_dask import parse_scheduler, run_on_cluster

        run_on_cluster(parse_scheduler(scheduler), todo, done, progress)
    elif jobs <= 1:
        for k, job in enumerate(todo):
            done[job.arm, job.shard] = run_shard(job)
            if progress:
                progress(k + 1, len(todo))
    else:
        # a Pool, not a ProcessPoolExecutor: leaving it (Ctrl-C, an error) terminates the
        # workers at once instead of waiting for their shards to finish
        with _start_pool(jobs) as pool:
            shards_done = pool.imap_unordered(_run_numbered_shard, enumerate(todo))
            for count, (k, result) in enumerate(shards_done, start=1):
                done[todo[k].arm, todo[k].shard] = result
                if progress:
                    progress(count, len(todo))
    return merge_arms(plan, profiles, done, range(shards))


def shards_every_arm_finished(
    profiles: Sequence[str], finished: dict[tuple[int, int], RunResult]
) -> list[int]:
    """The shards (in order) that every profile finished: a cut-short A/B compares these
    only, so both arms still serve the same sessions."""
    shards = {shard for _, shard in finished}
    return sorted(s for s in shards if all((a, s) in finished for a in range(len(profiles))))


def merge_arms(
    plan: FleetPlan,
    profiles: Sequence[str],
    finished: dict[tuple[int, int], RunResult],
    shards: Iterable[int],
) -> list[RunResult]:
    """Per profile, its results of ``shards`` merged in shard order into one run (a
    profile with none of them: an empty run is not made, the profile is left out)."""
    order = list(shards)
    return [
        merge_shards([finished[arm, s] for s in order], f"fleet:{profile}:{plan.sessions}s")
        for arm, profile in enumerate(profiles)
        if order
    ]


def arm_stats(
    results: Sequence[RunResult], profiles: Sequence[str], first_pile_no: int
) -> list[ProfileStats]:
    """One :class:`~simrig.report.stats.ProfileStats` per compared profile, in order (a
    pile's profile by its number: ``first + k × PILE_NO_STRIDE``); the same profile
    twice is two arms, the second named ``NAME #2``."""
    from simrig.report.stats import ProfileStats

    def arm(pile_no: str) -> int:
        return (int(pile_no) - first_pile_no) // PILE_NO_STRIDE

    names: list[str] = []
    for k, profile in enumerate(profiles):
        found = (r.profiles[p] for r in results for p in r.profiles if arm(p) == k)
        base = next(found, profile)
        name, copy = base, 1
        while name in names:
            copy += 1
            name = f"{base} #{copy}"
        names.append(name)
    stats = [ProfileStats(name) for name in names]
    for r in results:
        for v in r.verdicts:
            stats[arm(v.truth.pile_no)].add(v)
    return stats


def platform_flags(
    results: Sequence[RunResult], profiles: Sequence[str], first_pile_no: int
) -> list[Counter[str]]:
    """Per compared profile: orders per label of the reference platform's *own* anomaly
    flags (its bill checks and lost-bill sweep: ``anomaly`` events, source = the pile) —
    what an operator's platform counts, as the field's tables do (the oracle's verdicts
    also know the truth, so they add codes no platform could see). A lost-bill flag (1,
    2) whose bill arrived later (a ``bill`` event) is withdrawn: the field counts bills
    that never came."""
    from simrig.domain.anomaly import combo_label

    codes: dict[tuple[int, str], set[int]] = {}
    billed: set[str] = set()
    for r in results:
        for e in r.events:
            if e.kind == "bill":
                billed.add(str(e.data["serial"]))
            elif e.kind == "anomaly":
                arm = (int(e.source) - first_pile_no) // PILE_NO_STRIDE
                codes.setdefault((arm, str(e.data["serial"])), set()).add(int(e.data["code"]))
    counts: list[Counter[str]] = [Counter() for _ in profiles]
    for (arm, serial), found in sorted(codes.items()):
        if serial in billed:
            found = found - {1, 2}
        if found:
            counts[arm][combo_label(found)] += 1
    return counts
