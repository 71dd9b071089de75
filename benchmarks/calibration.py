"""Calibration at full size (issue 14 item 6): every field rate of
``simrig/report/field_rates.py`` against the rig, each at the field's own session count
(igo_case#17's old line: ~11,700 sessions), for seeds 1, 2, 3.

    python benchmarks/calibration.py [--jobs 2] [--seeds 1 2 3] [--rows zpd_case#7 ...]

Prints per fleet the oracle's labels and the reference platform's own flags (what an
operator's platform counts), then per row and seed the rig's count and rate (the oracle's
verdicts) against the field's acceptance interval
(Wilson 95 % widened to ±20 % relative) and PASS / FAIL; rows the field itself cannot
make consistent (a ``note``) print REPORTED instead of FAIL. Exit 1 if a required row
fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from simrig.cli.fleet import arm_stats, plan_fleet, platform_flags, run_fleet
from simrig.report.field_rates import FIELD_RATES
from simrig.scenarios.workload import WorkloadSpec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", nargs="*", default=None, help="case ids to run")
    args = parser.parse_args()
    rows = [r for r in FIELD_RATES if args.rows is None or r.case in args.rows]
    # one fleet per (profile, size, seed) serves every row of that profile
    fleets: dict[tuple[str, int, int], object] = {}
    flagged: dict[tuple[str, int, int], Counter[str]] = {}
    failed = False
    for row in rows:
        for seed in args.seeds:
            key = (row.profile, row.sessions, seed)
            if key not in fleets:
                started = time.perf_counter()
                spec = WorkloadSpec(profile="", days=30, seed=seed)
                plan = plan_fleet(spec, row.sessions)
                results = run_fleet(plan, [row.profile], jobs=args.jobs)
                [fleets[key]] = arm_stats(results, [row.profile], spec.first_pile_no)
                wall = time.perf_counter() - started
                print(f"# {row.profile} {row.sessions} sessions seed {seed}: {wall:.1f} s wall")
                print(f"#   oracle labels: {dict(fleets[key].by_label)}")  # type: ignore[attr-defined]
                [flagged[key]] = platform_flags(results, [row.profile], spec.first_pile_no)
                print(f"#   the platform's own flags: {dict(flagged[key])}")
            stats = fleets[key]
            count = stats.count(row.label)  # type: ignore[attr-defined]
            n = stats.sessions  # type: ignore[attr-defined]
            low, high = row.acceptance()
            ok = row.accepts(count, n)
            verdict = "PASS" if ok else ("REPORTED" if row.note else "FAIL")
            failed |= verdict == "FAIL"
            own = flagged[key][row.label] if row.label != "any" else sum(flagged[key].values())
            own_ok = "pass" if row.accepts(own, n) else "fail"
            print(
                f"{row.case:12} {row.firmware:12} code {row.label:5} seed {seed}: rig "
                f"{count}/{n} = {1000 * count / n:7.2f} ‰  field {row.count}/{row.sessions} = "
                f"{1000 * row.rate:7.2f} ‰  accept [{1000 * low:.2f}, {1000 * high:.2f}]  "
                f"{verdict}  (platform's own flags: {own} = {1000 * own / n:.2f} ‰, {own_ok})"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
