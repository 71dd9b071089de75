"""Fleet A/B at the field's scale (issue 14 performance goal): 25,000 sessions per
profile, two profiles, sharded over ``--jobs`` worker processes; goal <= 2 minutes with
``--jobs 2`` on the 2-core machine, floor <= 4 minutes.

    python benchmarks/fleet_ab.py [--sessions 25000] [--jobs 2] [--repeat 1]
        [--profiles sinexcel-dc@2090104 sinexcel-dc@2090404] [--scheduler local:2]

Prints the wall time of each repeat (and the median), sessions per second, and the A/B
summary of the last run (as ``simrig compare`` writes it). With ``--scheduler`` (a Dask
cluster, ``compare --scheduler``: ``local:N`` includes starting its N workers, as the
command does) each repeat runs ``--jobs`` and then the cluster, alternately, and prints
both medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

from simrig.cli.fleet import arm_stats, plan_fleet, run_fleet
from simrig.report.ab import summary_text
from simrig.scenarios.workload import WorkloadSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=25_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scheduler", help="also run on this Dask cluster, alternately")
    parser.add_argument(
        "--profiles", nargs="+", default=["sinexcel-dc@2090104", "sinexcel-dc@2090404"]
    )
    args = parser.parse_args()
    spec = WorkloadSpec(profile="", days=30, seed=args.seed)
    engines: list[str | None] = [None] + ([args.scheduler] if args.scheduler else [])
    walls: dict[str | None, list[float]] = {engine: [] for engine in engines}
    stats = []
    for _ in range(args.repeat):
        for engine in engines:  # alternately: the machine's load falls on both alike
            started = time.perf_counter()
            plan = plan_fleet(spec, args.sessions)
            results = run_fleet(plan, args.profiles, jobs=args.jobs, scheduler=engine)
            stats = arm_stats(results, args.profiles, spec.first_pile_no)
            wall = time.perf_counter() - started
            walls[engine].append(wall)
            total = sum(s.sessions for s in stats)
            how = f"--scheduler {engine}" if engine else f"--jobs {args.jobs}"
            print(
                f"{len(args.profiles)} x {args.sessions} sessions ({plan.piles} piles x 30 "
                f"days), {how}: {wall:.1f} s wall, {total / wall:.0f} sessions/s"
            )
    for engine, times in walls.items():
        how = f"--scheduler {engine}" if engine else f"--jobs {args.jobs}"
        print(f"{how}: median {statistics.median(times):.1f} s over {len(times)} run(s)")
    if args.scheduler:
        ratio = statistics.median(walls[args.scheduler]) / statistics.median(walls[None])
        print(f"--scheduler {args.scheduler} / --jobs {args.jobs}: {ratio:.2f}")
    print(summary_text(stats))


if __name__ == "__main__":
    main()
