"""Replay cost (issue 12 item 3): the pure core per frame, and a replay against the platform.

    python benchmarks/replay_speed.py [--piles 8] [--days 1] [--rounds 3]

A station workload (sinexcel-dc@2090104, 3 card sessions per pile-day, seed 7) runs in
virtual time; its capture is then

1. planned (``read_frames`` + ``build_plan``), rewritten (``Rewriter.outgoing`` for every
   pile frame, with the serials mapped) and diffed against itself (``diff_replay``):
   CPU µs per frame, medians of ``--rounds``;
2. replayed as fast as replies (``simrig replay --as-fast-as-replies``, in process) against
   a fresh ``simrig platform serve`` per round: wall seconds and pile frames per second,
   medians.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--piles", type=int, default=8)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from simrig.adapters.platform_process import start_platform
    from simrig.adapters.replay_client import ReplayOptions, run_replay
    from simrig.capture.formats import read_capture
    from simrig.control.platform_toml import platform_toml
    from simrig.replay import Rewriter, build_plan, diff_replay
    from simrig.replay.plan import read_frames
    from simrig.report import write_report
    from simrig.scenarios.workload import WorkloadSpec, station_workload
    from simrig.sim.runner import run_scenario
    from simrig.sim.world import site_from_scenario

    spec = WorkloadSpec(
        profile="sinexcel-dc@2090104",
        piles=args.piles,
        days=args.days,
        seed=7,
        sessions_per_pile_day=3.0,
        app_share=0.0,  # card starts: a replay plays the pile, not the app
    )
    scenario = station_workload(spec, random.Random(7))
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        write_report([run_scenario(scenario)], tmp / "rec")
        items = list(read_capture(tmp / "rec" / "capture.pcapng"))
        (tmp / "platform.toml").write_text(platform_toml(site_from_scenario(scenario)))

        core: dict[str, list[float]] = {"plan": [], "rewrite": [], "diff": []}
        for _ in range(args.rounds):
            t = time.process_time()
            framed = read_frames(items)
            plan = build_plan(framed)
            core["plan"].append(time.process_time() - t)
            rewriter = Rewriter.for_recording(plan.recorded)
            steps = [s for p in plan.piles.values() for c in p.connections for s in c.steps]
            t = time.process_time()
            for step in steps:
                rewriter.outgoing(step.frame, step.synthetic)
            core["rewrite"].append(time.process_time() - t)
            t = time.process_time()
            diff_replay(framed, framed, rewriter)
            core["diff"].append(time.process_time() - t)
        frames = len(framed.frames)
        print(
            f"capture: {args.piles} piles, {args.days:g} days, {frames} frames "
            f"({plan.frames} pile frames, {len(steps) - plan.frames} heartbeats put back)"
        )
        for name, values in core.items():
            per = len(steps) if name == "rewrite" else frames
            median = statistics.median(values)
            print(f"  {name:<8} {median * 1e3:8.1f} ms CPU  {median / per * 1e6:6.1f} µs/frame")

        walls, rates = [], []
        for i in range(args.rounds):
            db = tmp / f"p{i}.sqlite"
            server = start_platform(
                ["--listen", "127.0.0.1:0", "--http", "off", "--db", str(db),
                 "--config", str(tmp / "platform.toml")]
            )  # fmt: skip
            try:
                plan = build_plan(read_frames(items))
                options = ReplayOptions("127.0.0.1", server.port, as_fast=True, cap_s=0.5)
                rewriter = Rewriter.for_recording(plan.recorded)
                run = run_replay(plan, options, rewriter)
            finally:
                server.stop()
            fresh = read_frames(run.items)
            found = diff_replay(plan.recorded, fresh, rewriter, timed=False).counts()
            print(f"  round {i + 1}: {run.sent} pile frames, differences {found}")
            walls.append(run.wall_s)
            rates.append(run.sent / run.wall_s)
        print(
            f"as fast as replies against the platform: {statistics.median(walls):.2f} s wall, "
            f"{statistics.median(rates):,.0f} pile frames/s (medians of {args.rounds})"
        )


if __name__ == "__main__":
    main()
