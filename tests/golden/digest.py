"""Golden digests: what a run did, reduced to a few hashes (issue 10).

Every library scenario and two busy station-weeks run in virtual time on the embedded
platform; each digest covers the frames (time, pile, direction, bytes — so sequence
numbers too), the domain events and the verdicts. A refactor keeps them unchanged; a
change of behaviour on purpose regenerates them in a commit of its own that lists each
changed scenario and why::

    python -m tests.golden.digest --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path
from typing import Any

from simrig.scenarios import library_names, load_scenario
from simrig.scenarios.workload import WorkloadSpec, station_workload
from simrig.sim.results import RunResult
from simrig.sim.runner import run_scenario

DIGESTS = Path(__file__).with_name("digests.json")

#: busy multi-pile station-weeks: a clean profile and one with quirks
STATION_WEEKS = {
    "station_week_2090104": WorkloadSpec(
        profile="sinexcel-dc@2090104", piles=8, days=7, seed=7, sessions_per_pile_day=3.0
    ),
    "station_week_2090102": WorkloadSpec(
        profile="sinexcel-dc@2090102", piles=8, days=7, seed=11, sessions_per_pile_day=3.0
    ),
}


def _hash(items: Any) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps(item, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def digest(result: RunResult) -> dict[str, Any]:
    """Frames, events and verdicts of one run, each as a sha256."""
    frames = ((c.at.isoformat(), c.pile_no, c.direction, c.data.hex()) for c in result.chunks)
    events = ((repr(e.t), e.kind, e.source, e.gun, e.data) for e in result.events)
    verdicts = (
        (
            v.key,
            sorted(int(c) for c in v.codes),
            v.charged_yuan,
            v.fair_yuan,
            list(v.evidence),
            list(v.notes),
            [repr(n) for n in v.false_notifications],
        )
        for v in result.verdicts
    )
    return {
        "frames": len(result.chunks),
        "frames_sha256": _hash(frames),
        "events_sha256": _hash(events),
        "verdicts_sha256": _hash(verdicts),
        "expectations_passed": result.passed,
    }


def golden_cases() -> list[str]:
    return [*library_names(), *STATION_WEEKS]


def run_case(name: str) -> dict[str, Any]:
    if name in STATION_WEEKS:
        spec = STATION_WEEKS[name]
        scenario = station_workload(spec, random.Random(spec.seed), name=name)
    else:
        scenario = load_scenario(name)
    return digest(run_scenario(scenario))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate digests.json")
    args = parser.parse_args()
    found = {name: run_case(name) for name in golden_cases()}
    if args.write:
        DIGESTS.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
        print(f"wrote {DIGESTS}")
        return
    stored = json.loads(DIGESTS.read_text())
    for name, value in found.items():
        print(name, "same" if stored.get(name) == value else "CHANGED")


if __name__ == "__main__":
    main()
