"""Calibration at full size (issue 14 item 6): every field rate of
``simrig/report/field_rates.py`` against the rig, each at the field's own session count
(igo_case#17's old line: ~11,700 sessions per profile, 11536 and 11523), for seeds 1, 2, 3.

    python benchmarks/calibration.py [--jobs 2] [--seeds 1 2 3] [--rows zpd_case#7 ...]
                                     [--profiles sinexcel-dc@11536 ...]

Each row is held to its own view (``FieldRate.view``): the oracle's verdicts (the zpd
rows) or the reference platform's own anomaly flags (igo_case#17's old line: what the
site's platform counted). Prints per fleet both views' labels, then per row and seed
the rig's count and rate in the row's view against the field's acceptance interval
(Wilson 95 % widened to ±20 % relative) and PASS / FAIL, with the other view's count
for reference; rows the field itself cannot make consistent (a ``note``) print REPORTED
instead of FAIL. Fleets run one at a time (``--jobs`` worker processes each). Exit 1 if
a required row fails. The CI-sized check is ``tests/report/test_calibration.py`` and
``tests/report/test_old_line_calibration.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import replace

from simrig.cli.fleet import arm_stats, plan_fleet, platform_flags, run_fleet
from simrig.report.field_rates import FIELD_RATES, FieldRate, View
from simrig.report.stats import ProfileStats
from simrig.scenarios.workload import WorkloadSpec

Fleet = tuple[ProfileStats, Counter[str], float]


def run(profile: str, sessions: int, seed: int, jobs: int) -> Fleet:
    """One profile's fleet of ``sessions`` sessions (the station workload's density)."""
    started = time.perf_counter()
    spec = WorkloadSpec(profile="", days=30, seed=seed)
    results = run_fleet(plan_fleet(spec, sessions), [profile], jobs=jobs)
    [stats] = arm_stats(results, [profile], spec.first_pile_no)
    [flags] = platform_flags(results, [profile], spec.first_pile_no)
    return stats, flags, time.perf_counter() - started


def line(row: FieldRate, seed: int, fleet: Fleet) -> tuple[str, str]:
    stats, flags, _ = fleet
    n = stats.sessions
    count = row.rig_count(stats, flags)
    other: View = "platform" if row.view == "oracle" else "oracle"
    other_count = replace(row, view=other).rig_count(stats, flags)
    low, high = row.acceptance()
    ok = row.accepts(count, n)
    verdict = "PASS" if ok else ("REPORTED" if row.note else "FAIL")
    text = (
        f"{row.case:12} {row.firmware:8} {row.view:8} code {row.label:5} seed {seed}: rig "
        f"{count:4}/{n} = {1000 * count / n:6.2f} ‰  field {row.count:3}/{row.sessions} = "
        f"{1000 * row.rate:6.2f} ‰  accept [{1000 * low:6.2f}, {1000 * high:6.2f}] ‰  "
        f"{verdict:8} ({other}: {other_count})"
    )
    return verdict, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", nargs="*", default=None, help="case ids to run")
    parser.add_argument("--profiles", nargs="*", default=None, help="profiles to run")
    args = parser.parse_args()
    rows = [
        r
        for r in FIELD_RATES
        if (args.rows is None or r.case in args.rows)
        and (args.profiles is None or r.profile in args.profiles)
    ]
    fleets: dict[tuple[str, int, int], Fleet] = {}
    verdicts: Counter[str] = Counter()
    for key in dict.fromkeys((r.profile, r.sessions, seed) for r in rows for seed in args.seeds):
        profile, sessions, seed = key
        fleets[key] = fleet = run(profile, sessions, seed, args.jobs)
        stats, flags, wall = fleet
        print(f"# {profile} {stats.sessions} sessions seed {seed}: {wall:.1f} s wall", flush=True)
        print(f"#   oracle labels: {dict(sorted(stats.by_label.items()))}")
        print(f"#   the platform's own flags: {dict(sorted(flags.items()))}")
        for row in rows:
            if (row.profile, row.sessions) == (profile, sessions):
                verdict, text = line(row, seed, fleet)
                verdicts[verdict] += 1
                print(text, flush=True)
    print(f"# rows × seeds: {dict(verdicts)}")
    return 1 if verdicts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
