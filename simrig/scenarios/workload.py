"""Stochastic station workloads: arrivals by hour of day, session lengths, user behaviour.

A workload is generated into an ordinary :class:`Scenario` (same timeline steps as an
incident file), so it runs on every driver and is judged by the same oracle.

Two shapes. :func:`station_workload`: one station whose piles share one user pool and
draw from the one ``random.Random(spec.seed)`` the caller passes in (the golden
station-weeks pin it). :func:`fleet_scenario`: a fleet whose piles are independent —
each pile draws from its own stream and serves its own users (:func:`pile_users`), so
any subset of piles (a shard) generates exactly the sessions it has in the whole fleet
(``simrig compare --jobs N``). The same spec gives the same scenario either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .schema import Scenario

if TYPE_CHECKING:
    import random

#: relative arrival intensity per hour of day (a commuter station: morning and evening peaks)
DEFAULT_HOURLY = (
    0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.0, 1.4, 1.2, 1.0, 1.0,
    1.1, 1.0, 0.9, 0.9, 1.0, 1.3, 1.5, 1.4, 1.2, 1.0, 0.7, 0.5,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """Parameters of a station workload (defaults: ~1 session per pile-day, like the
    igo_case#17 site: ~11,700 sessions on 14 piles over a few months)."""

    profile: str
    piles: int = 16
    days: float = 30.0
    seed: int = 1
    sessions_per_pile_day: float = 1.0
    hourly: tuple[float, ...] = DEFAULT_HOURLY
    app_share: float = 0.6
    #: chance the user lets the car charge to full instead of stopping it
    full_share: float = 0.3
    desired_minutes: tuple[float, float] = (20.0, 90.0)
    #: minutes between charge end and unplug: mostly short, sometimes long (occupancy)
    leave_mean_minutes: float = 8.0
    long_stay_share: float = 0.05
    epoch: datetime = datetime(2019, 10, 1)
    first_pile_no: int = 32010200000001
    platform: tuple[tuple[str, Any], ...] = ()
    #: ``[[expect_rate]]`` tables for the generated scenario (code label, rate, tolerance)
    expect_rates: tuple[tuple[str, float, float], ...] = ()
    #: the users drawn from (a load run gives one per pile: one open order per account)
    users: int = 200
    #: arrivals stop at this second (default: 4 h before the end, so every visit ends)
    arrivals_until_s: float | None = None


def station_workload(spec: WorkloadSpec, rng: random.Random, name: str | None = None) -> Scenario:
    piles = [str(spec.first_pile_no + i) for i in range(spec.piles)]
    users = [
        {
            "name": f"u{i:04d}",
            "card": f"{0x10000000 + i:016X}",
            "logical_card": str(2000000000 + i),
            "balance": 100_000.0,
        }
        for i in range(spec.users)
    ]
    vehicles: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    horizon = spec.days * 86400.0
    for pile_no in piles:
        _pile_visits(spec, rng, pile_no, users, vehicles, timeline, "v")
    timeline.sort(key=lambda s: s["at"])
    data = {
        "meta": {
            "name": name or f"station:{spec.profile}:{spec.piles}x{spec.days:g}d",
            "description": f"Stochastic station workload on {spec.profile}",
            "seed": spec.seed,
            "epoch": spec.epoch,
            "duration": horizon,
        },
        "piles": [{"pile_no": p, "profile": spec.profile} for p in piles],
        "vehicles": vehicles,
        "users": users,
        "timeline": timeline,
        "platform": dict(spec.platform),
        "expect_rate": [
            {"codes": codes, "rate": rate, "tolerance": tol}
            for codes, rate, tol in spec.expect_rates
        ],
    }
    return Scenario.model_validate(data)


def _pile_visits(
    spec: WorkloadSpec,
    rng: random.Random,
    pile_no: str,
    users: list[dict[str, Any]],
    vehicles: list[dict[str, Any]],
    timeline: list[dict[str, Any]],
    vehicle_prefix: str,
    limit: int | None = None,
) -> int:
    """Append one pile's visits over the horizon (at most ``limit``); how many."""
    horizon = spec.days * 86400.0
    last_arrival = horizon - 4 * 3600 if spec.arrivals_until_s is None else spec.arrivals_until_s
    peak = max(spec.hourly)
    rate_per_s = spec.sessions_per_pile_day / 86400.0 * peak / (sum(spec.hourly) / 24)
    t = 0.0
    free_at = 0.0
    visits = 0
    while limit is None or visits < limit:
        t += rng.expovariate(rate_per_s)
        if t >= last_arrival:
            break
        hour = int((spec.epoch + timedelta(seconds=t)).hour)
        if rng.random() > spec.hourly[hour] / peak or t < free_at:
            continue  # thinning by hour of day, or the pile is occupied
        name = f"{vehicle_prefix}{len(vehicles):05d}"
        t, done = _session(spec, rng, pile_no, t, users, vehicles, timeline, name)
        visits += 1
        free_at = done + 60.0
        t = max(t, free_at)
    return visits


#: users of one fleet pile (its own pool: no account is shared between piles)
USERS_PER_PILE = 8


def pile_users(index: int) -> list[dict[str, Any]]:
    """The users of fleet pile ``index`` (names, cards and logical cards unique in the
    fleet, derived from the index alone)."""
    first = index * USERS_PER_PILE
    return [
        {
            "name": f"p{index:05d}u{j}",
            "card": f"{0x20000000 + first + j:016X}",
            "logical_card": str(3000000000 + first + j),
            "balance": 100_000.0,
        }
        for j in range(USERS_PER_PILE)
    ]


def fleet_pile_no(spec: WorkloadSpec, index: int) -> str:
    return str(spec.first_pile_no + index)


def fleet_scenario(
    spec: WorkloadSpec,
    piles: Sequence[tuple[int, random.Random, int | None]],
    name: str,
    seed: int,
) -> Scenario:
    """The fleet piles ``(index, its own stream, its visit limit or None)`` as one
    scenario (firmware ``seed``): each pile's sessions depend on its index and stream
    only, never on which other piles share the scenario."""
    users: list[dict[str, Any]] = []
    vehicles: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    pile_defs = []
    for index, rng, limit in piles:
        pile_no = fleet_pile_no(spec, index)
        own = pile_users(index)
        users += own
        mine: list[dict[str, Any]] = []
        _pile_visits(spec, rng, pile_no, own, mine, timeline, f"p{index:05d}v", limit)
        vehicles += mine
        pile_defs.append({"pile_no": pile_no, "profile": spec.profile})
    timeline.sort(key=lambda s: (s["at"], s["pile"]))
    data = {
        "meta": {
            "name": name,
            "description": f"Fleet workload on {spec.profile}",
            "seed": seed,
            "epoch": spec.epoch,
            "duration": spec.days * 86400.0,
        },
        "piles": pile_defs,
        "vehicles": vehicles,
        "users": users,
        "timeline": timeline,
        "platform": dict(spec.platform),
    }
    return Scenario.model_validate(data)


def pile_visit_count(spec: WorkloadSpec, rng: random.Random) -> int:
    """How many visits fleet pile with stream ``rng`` has over the horizon."""
    return _pile_visits(spec, rng, "0", pile_users(0), [], [], "v")


def _session(
    spec: WorkloadSpec,
    rng: random.Random,
    pile_no: str,
    t: float,
    users: list[dict[str, Any]],
    vehicles: list[dict[str, Any]],
    timeline: list[dict[str, Any]],
    vehicle_name: str,
) -> tuple[float, float]:
    """Append one visit's steps; return (arrival, time the gun is returned)."""
    capacity = rng.choice((40.0, 50.0, 60.0, 75.0))
    initial_soc = round(rng.uniform(10, 60), 1)
    target_soc = rng.choice((90.0, 95.0, 100.0))
    max_power = rng.choice((40.0, 60.0, 90.0))
    vehicle: dict[str, Any] = {
        "name": vehicle_name,
        "capacity_kwh": capacity,
        "initial_soc": initial_soc,
        "target_soc": target_soc,
        "max_power_kw": max_power,
        "handshake_s": round(rng.uniform(15, 45), 1),
    }
    vehicles.append(vehicle)
    user = rng.choice(users)["name"]
    by_app = rng.random() < spec.app_share
    steps = [{"at": t, "do": "plug", "pile": pile_no, "vehicle": vehicle["name"]}]
    start = t + rng.uniform(20, 60)
    steps.append(
        {"at": start, "do": "app_start" if by_app else "card", "pile": pile_no, "user": user}
    )
    energy = capacity * (target_soc - initial_soc) / 100
    # a lower bound on the time to full (constant power, no taper): a user who stops the
    # session stops before it, so a stop never lands on an already finished order
    to_full_s = energy / max_power * 3600
    if rng.random() < spec.full_share:
        stop_at = start + 120 + to_full_s * 1.6  # to full, then the user comes back
    else:
        desired = 60 * rng.uniform(*spec.desired_minutes)
        stop_at = start + 120 + min(desired, 0.8 * to_full_s)
        kind = "app_stop" if by_app else "card"
        step: dict[str, Any] = {"at": stop_at, "do": kind, "pile": pile_no}
        if not by_app:
            step["user"] = user
        steps.append(step)
    leave = rng.expovariate(1 / spec.leave_mean_minutes) * 60
    if rng.random() < spec.long_stay_share:
        leave += rng.uniform(30, 180) * 60
    unplug = stop_at + 30 + leave
    steps.append({"at": unplug, "do": "unplug", "pile": pile_no})
    timeline += steps
    return t, unplug
