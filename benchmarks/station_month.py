"""Virtual-time speed: a 54-pile station-month (~1,600 sessions), every session frame
through the codec and the in-process reference platform (issue 5 benchmark).

    python benchmarks/station_month.py [--profile sinexcel-dc@2090104] [--piles 54] [--days 30]

Prints wall time, sessions, frames exchanged, heartbeats elided and the simulated/real
ratio (``--repeat N``: N runs and their median), plus with ``--compare-elision`` a run
with and without heartbeat elision on a smaller station for comparison.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter

from simrig.scenarios.workload import WorkloadSpec, station_workload
from simrig.sim.runner import run_scenario


def measure(profile: str, piles: int, days: float, seed: int, elide: bool = True) -> dict:
    spec = WorkloadSpec(profile=profile, piles=piles, days=days, seed=seed)
    scenario = station_workload(spec, random.Random(seed))
    started = time.perf_counter()
    result = run_scenario(scenario, elide_heartbeats=elide)
    wall = time.perf_counter() - started
    labels = Counter(
        "+".join(str(int(c)) for c in sorted(v.codes)) or "clean" for v in result.verdicts
    )
    return {
        "profile": profile,
        "piles": piles,
        "days": days,
        "elide": elide,
        "wall_s": round(wall, 1),
        "sessions": len(result.verdicts),
        "frames": result.frames,
        "elided_heartbeats": result.elided_heartbeats,
        "sim_per_real": round(days * 86400 / wall),
        "us_per_frame": round(wall / max(result.frames, 1) * 1e6, 1),
        "codes": dict(labels.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sinexcel-dc@2090104")
    parser.add_argument("--piles", type=int, default=54)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--compare-elision",
        action="store_true",
        help="also run 6 piles × 3 days with and without heartbeat elision",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run N times; print each and the median wall"
    )
    args = parser.parse_args()
    walls = []
    for _ in range(max(1, args.repeat)):
        figures = measure(args.profile, args.piles, args.days, args.seed)
        walls.append(figures["wall_s"])
        print(figures)
    if len(walls) > 1:
        print({"median_wall_s": statistics.median(walls), "walls": walls})
    if args.compare_elision:
        for elide in (True, False):
            print(measure(args.profile, 6, 3.0, args.seed, elide=elide))


if __name__ == "__main__":
    main()
