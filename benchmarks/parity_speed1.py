"""Parity at ``--speed 1`` (issue 11 item 8): a library scenario in real time against the
reference platform as its own ``simrig platform serve`` process, next to its virtual run.

Run by hand, not in CI: ``basic_card_session`` takes its full hour of wall clock::

    .venv/bin/python benchmarks/parity_speed1.py                 # ~1 h
    .venv/bin/python benchmarks/parity_speed1.py --minutes 3     # the first 3 minutes only

The server starts empty on free loopback ports, is provisioned through the HTTP template
``tests/control/reference_platform.toml`` and judged through its HTTP view, exactly as in
``tests/parity/test_parity.py`` (same harness). ``--minutes`` ends the scenario that many
scenario minutes after its start; the virtual reference is the same cut scenario. Prints
both verdicts; exit 0 when they agree, 1 when they do not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simrig.scenarios import load_scenario
from simrig.sim.runner import run_scenario
from tests.parity.harness import cut, rows_text, run_over_tcp, same_verdicts, verdict_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="basic_card_session")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument(
        "--minutes", type=float, default=None, help="cut the scenario to this many minutes"
    )
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    if args.minutes is not None:
        scenario = cut(scenario, args.minutes * 60.0)
    duration = scenario.meta.duration
    print(
        f"{scenario.meta.name}: {duration / 60:g} scenario minutes at {args.speed:g}x "
        f"= ~{duration / args.speed / 60:.1f} min of wall clock, against simrig platform serve",
        flush=True,
    )
    virtual = run_scenario(scenario)
    started = time.perf_counter()
    tcp = run_over_tcp(scenario, args.speed)
    wall = time.perf_counter() - started
    expected, got = verdict_rows(virtual), verdict_rows(tcp)
    same = same_verdicts(expected, got)
    print(f"virtual (embedded, virtual time): {rows_text(expected)}")
    print(f"tcp     ({args.speed:g}x, {wall:.0f} s wall):  {rows_text(got)}")
    note = " (cut before the scenario's end)" if args.minutes is not None else ""
    print(f"[[expect]]{note}: virtual {'pass' if virtual.passed else 'fail'}, "
          f"tcp {'pass' if tcp.passed else 'fail'}")  # fmt: skip
    print("PARITY" if same else "VERDICTS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
