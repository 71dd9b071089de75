"""One fleet shard (16 piles × 30 days, ~470 sessions), the unit ``simrig compare`` runs
per process: wall time and a digest of what it decided, to measure per-frame work and to
check that a speed change decides nothing differently.

    python benchmarks/fleet_shard.py [--profile sinexcel-dc@2090104] [--shard 0]
        [--repeat 3] [--sessions 25000]

Prints each repeat's wall and CPU time (CPU is steadier on a shared machine), the
medians, the frames and sessions, and the digest (verdicts, expectations and the
platform's own flags and bills).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

from simrig.cli.fleet import ShardJob, plan_fleet, run_shard
from simrig.scenarios.workload import WorkloadSpec
from simrig.sim.results import RunResult


def decision_digest(result: RunResult) -> str:
    """A hash of every verdict and platform flag (reprs are deterministic)."""
    h = hashlib.sha256()
    for verdict in result.verdicts:
        h.update(repr(verdict).encode())
    for event in result.events:
        h.update(repr((event.t, event.kind, event.source, event.gun, event.data)).encode())
    return h.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="sinexcel-dc@2090104")
    parser.add_argument("--shard", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=25_000)
    args = parser.parse_args()
    plan = plan_fleet(WorkloadSpec(profile="", days=30, seed=1), args.sessions)
    job = ShardJob(plan, args.profile, 0, args.shard, None, ())
    walls, cpus = [], []
    result = None
    for _ in range(args.repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = run_shard(job)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        print(f"{walls[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU")
    assert result is not None
    print(
        f"median {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU; "
        f"{result.frames} chunks, "
        f"{len(result.verdicts)} sessions; digest {decision_digest(result)}"
    )


if __name__ == "__main__":
    main()
