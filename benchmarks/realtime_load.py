"""Real-time load: many piles as asyncio TCP clients against the reference platform
running as a separate server process on loopback (``--backend embedded-tcp``).

A flat-hour station workload (every hour as busy as the next), run at ``--speed`` times
wall-clock pace, then judged like any run. Prints wall time, sessions, chunks, verdict
codes and peak memory of this process:

    python benchmarks/realtime_load.py --piles 500 --hours 5 --speed 100

Sessions start only in the first ``hours - 4`` hours (the workload lets each one end).
Bounded by construction: ``hours * 3600 / speed`` seconds of wall time plus start-up.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections import Counter

from simrig.scenarios.workload import WorkloadSpec, station_workload
from simrig.sim.runner import run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sinexcel-dc@2090404")
    parser.add_argument("--piles", type=int, default=500)
    parser.add_argument("--hours", type=float, default=5.0)
    parser.add_argument("--speed", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    if args.hours <= 4:
        parser.error("--hours must be above 4 (sessions start in the first hours - 4)")
    spec = WorkloadSpec(
        profile=args.profile,
        piles=args.piles,
        days=args.hours / 24,
        seed=args.seed,
        sessions_per_pile_day=24.0,
        hourly=(1.0,) * 24,
        desired_minutes=(10.0, 30.0),
    )
    scenario = station_workload(spec, random.Random(args.seed))
    started = time.perf_counter()
    result = run_scenario(scenario, backend="embedded-tcp", speed=args.speed)
    wall = time.perf_counter() - started
    codes = Counter(
        "+".join(str(int(c)) for c in sorted(v.codes)) or "clean" for v in result.verdicts
    )
    print(
        {
            "piles": args.piles,
            "sim_hours": args.hours,
            "speed": args.speed,
            "wall_s": round(wall, 1),
            "sessions": len(result.verdicts),
            "chunks": len(result.chunks),
            "codes": dict(codes.most_common()),
            "expectations_passed": result.passed,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }
    )


if __name__ == "__main__":
    main()
