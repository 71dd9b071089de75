"""simrig's station-month against its anchor, ACN-Sim (Caltech's EV-charging simulator,
model only, no wire), simulating the same month (issue 14 performance).

    pip install -e .[bench]     # acnportal, never a runtime dependency
    python benchmarks/acn_compare.py [--piles 54] [--days 30] [--repeat 3]

The arrivals, departures and energy demands come from simrig's own station workload
(``station_workload``, the ``benchmarks/station_month.py`` month): one ACN EVSE per pile,
each visit an EV arriving at the plug, leaving at the unplug, asking the energy from its
initial to its target SOC at up to its max power; uncontrolled charging at ACN's usual
5-minute period, synthetic events (ACN's data API needs the internet). ``--lean``: simrig
keeps verdicts only, as a fleet shard does. The two run alternately in this process
(imports excluded: not the issue's whole-process figure); prints each wall time, the
medians and simrig / ACN.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from simrig.scenarios import Scenario
from simrig.scenarios.workload import WorkloadSpec, station_workload
from simrig.sim.keep import EVERYTHING, VERDICTS_ONLY
from simrig.sim.runner import run_scenario

#: DC output voltage the ACN network is given (ACN works in amps)
VOLTS = 400.0
#: EVSE limit: a 120 kW DC pile at :data:`VOLTS`
MAX_AMPS = 300.0
PERIOD_MIN = 5


def visits(scenario: Scenario) -> list[dict[str, Any]]:
    """Per visit: pile index, arrival and departure (s), demand (kWh), max power (kW)."""
    piles = {p.pile_no: i for i, p in enumerate(scenario.piles)}
    vehicles = {v.name: v for v in scenario.vehicles}
    open_: dict[str, dict[str, Any]] = {}
    out = []
    for step in scenario.timeline:
        if step.do == "plug":
            v = vehicles[step.vehicle or ""]
            demand = v.capacity_kwh * max(0.0, v.target_soc - v.initial_soc) / 100
            open_[step.pile] = {
                "station": piles[step.pile],
                "arrival": step.at,
                "demand_kwh": demand,
                "capacity_kwh": v.capacity_kwh,
                "init_kwh": v.capacity_kwh * v.initial_soc / 100,
                "max_kw": v.max_power_kw,
            }
        elif step.do == "unplug" and step.pile in open_:
            visit = open_.pop(step.pile)
            visit["departure"] = step.at
            out.append(visit)
    return out


def run_acn(found: list[dict[str, Any]], piles: int, days: float) -> tuple[float, float]:
    """Build and run the ACN-Sim month; its wall seconds and the share of the demanded
    energy it delivered (a sanity check that it really charged)."""
    from datetime import datetime

    import pytz
    from acnportal import acnsim
    from acnportal.algorithms import UncontrolledCharging

    started = time.perf_counter()
    network = acnsim.ChargingNetwork()
    for i in range(piles):
        network.register_evse(acnsim.EVSE(f"pile{i}", max_rate=MAX_AMPS), VOLTS, 0)
    # uncontrolled: one feeder constraint no load reaches
    network.add_constraint(acnsim.Current([f"pile{i}" for i in range(piles)]), 1e9, "feeder")
    events = acnsim.EventQueue()
    period_s = PERIOD_MIN * 60
    for k, v in enumerate(found):
        arrival = int(v["arrival"] // period_s)
        departure = max(arrival + 1, int(v["departure"] // period_s))
        battery = acnsim.Battery(v["capacity_kwh"], v["init_kwh"], v["max_kw"])
        ev = acnsim.EV(arrival, departure, v["demand_kwh"], f"pile{v['station']}", f"s{k}", battery)
        events.add_event(acnsim.PluginEvent(arrival, ev))
    start = pytz.timezone("Asia/Shanghai").localize(datetime(2019, 10, 1))
    sim = acnsim.Simulator(
        network, UncontrolledCharging(), events, start, period=PERIOD_MIN, verbose=False
    )
    sim.run()
    wall = time.perf_counter() - started
    return wall, float(acnsim.analysis.proportion_of_energy_delivered(sim))


def run_simrig(scenario: Scenario, lean: bool) -> float:
    """A full run (capture, truth samples, every frame), or ``lean``: verdicts only, as a
    fleet shard runs (BMS telemetry on paper, no truth samples) — closer to what ACN-Sim
    keeps."""
    started = time.perf_counter()
    run_scenario(scenario, keep=VERDICTS_ONLY if lean else EVERYTHING)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sinexcel-dc@2090104")
    parser.add_argument("--piles", type=int, default=54)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--lean", action="store_true", help="simrig keeps verdicts only (as a fleet shard)"
    )
    args = parser.parse_args()
    spec = WorkloadSpec(profile=args.profile, piles=args.piles, days=args.days, seed=args.seed)
    scenario = station_workload(spec, random.Random(args.seed))
    found = visits(scenario)
    print(f"{len(found)} visits on {args.piles} piles over {args.days:g} days")
    ours, theirs = [], []
    for k in range(args.repeat):
        ours.append(run_simrig(scenario, args.lean))
        wall, delivered = run_acn(found, args.piles, args.days)
        theirs.append(wall)
        print(
            f"run {k + 1}: simrig {ours[-1]:.1f} s, ACN-Sim {wall:.1f} s "
            f"(delivered {100 * delivered:.0f} % of the demand)"
        )
    a, b = statistics.median(ours), statistics.median(theirs)
    mode = " (lean)" if args.lean else ""
    print(f"median: simrig{mode} {a:.1f} s, ACN-Sim {b:.1f} s, simrig / ACN-Sim = {a / b:.2f}")


if __name__ == "__main__":
    main()
