"""What a load run does: piles per profile, the ramp, the sessions, the link faults.

The sessions are the station workload's model (:mod:`simrig.scenarios.workload`: Poisson
arrivals per pile and hour, session lengths, card or app), run on the same firmware
models as every other run. A load plan only decides how many piles of which profile,
when each pile powers up (logins spread uniformly over the ramp, so heartbeat phases
spread as in a real fleet instead of a thundering herd), and the link faults: a fixed
latency, a reply delay, random loss, and outage storms ("10 % of the piles drop for 60 s
every 15 min") from the link model (:mod:`simrig.link`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from simrig.cli.workload import MAX_PILE_NO, side_by_side, users_in_use
from simrig.link import Link, LinkModel
from simrig.scenarios import Scenario
from simrig.scenarios.workload import WorkloadSpec, station_workload

__all__ = ["FIRST_PILE_NO", "Group", "LinkFaults", "LoadPlan", "Storm", "parse_mix"]

FIRST_PILE_NO = 32010200000001
Windows = list[tuple[float, float]]
_STORM = re.compile(r"^\s*(\d+(?:\.\d+)?)%/(\S+)/(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Storm:
    """Every ``every_s``, a share of the piles (drawn anew each time) loses its link for
    ``down_s``: bytes swallowed both ways, connects fail (the link model's outages)."""

    share: float
    down_s: float
    every_s: float

    @classmethod
    def parse(cls, text: str) -> Storm:
        """``10%/60s/15m`` → 10 % of the piles down for 60 s every 15 min."""
        from simrig.scenarios.schema import parse_duration

        match = _STORM.match(text)
        if not match:
            raise ValueError(f"--storm {text!r}: expected SHARE%/DOWN/EVERY, e.g. 10%/60s/15m")
        share = float(match.group(1)) / 100
        down, every = parse_duration(match.group(2)), parse_duration(match.group(3))
        if not 0 < share <= 1 or not 0 < down < every:
            raise ValueError(f"--storm {text!r}: need 0 < share <= 100 % and 0 < down < every")
        return cls(share, down, every)

    def windows(
        self, piles: list[str], start: float, end: float, rng: random.Random
    ) -> dict[str, list[tuple[float, float]]]:
        """Per pile, its outage windows between ``start`` and ``end``."""
        out: dict[str, list[tuple[float, float]]] = {p: [] for p in piles}
        count = max(1, round(self.share * len(piles)))
        t = start + self.every_s
        while t < end:
            for pile in rng.sample(piles, count):
                out[pile].append((t, t + self.down_s))
            t += self.every_s
        return out


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """The link model of every pile (times in scenario seconds)."""

    latency_s: float = 0.0
    #: added to the backend → pile direction only (a known delay on every reply)
    reply_delay_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0
    storm: Storm | None = None

    def links(self, piles: list[str], seed: int, start: float, end: float) -> dict[str, Link]:
        """Each pile's link; an rng only where the faults draw from one."""
        storms = (
            self.storm.windows(piles, start, end, random.Random(f"{seed}:storm"))
            if (self.storm)
            else {}
        )
        random_faults = bool(self.jitter_s or self.loss)
        out = {}
        for pile in piles:
            windows = storms.get(pile, [])

            def model(
                delay: float,
                direction: str,
                pile: str = pile,
                windows: list[tuple[float, float]] = windows,
            ) -> LinkModel:
                rng = random.Random(f"{seed}:{pile}:{direction}") if random_faults else None
                return LinkModel(rng, delay, self.jitter_s, self.loss, outages=windows)

            out[pile] = Link(
                model(self.latency_s, "up"), model(self.latency_s + self.reply_delay_s, "down")
            )
        return out


@dataclass(frozen=True, slots=True)
class Group:
    """``piles`` piles of one profile, numbered from ``first_pile_no``; ``users``: the
    group's user pool (its pile count in the whole plan, the same in every worker)."""

    profile: str
    first_pile_no: int
    piles: int
    users: int = 0


def parse_mix(profiles: list[str], piles: int, first_pile_no: int = FIRST_PILE_NO) -> list[Group]:
    """``--profile P`` (repeatable, ``P=SHARE`` for a mix) → groups of piles numbered one
    after the other; shares are normalised, counts by largest remainder."""
    from simrig.firmware_models import load_profile

    shares: list[tuple[str, float]] = []
    for text in profiles:
        name, sep, share = text.partition("=")
        try:
            weight = float(share) if sep else 1.0
        except ValueError:
            raise ValueError(f"--profile {text!r}: the share after = is not a number") from None
        if weight <= 0:
            raise ValueError(f"--profile {text!r}: the share must be > 0")
        load_profile(name)  # an unknown profile is bad input now, not a failed run
        shares.append((name, weight))
    if not shares:
        raise ValueError("give at least one --profile")
    total = sum(w for _, w in shares)
    exact = [piles * w / total for _, w in shares]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: piles - sum(counts)]:
        counts[i] += 1
    groups, nxt = [], first_pile_no
    for (name, _), count in zip(shares, counts, strict=True):
        if count:
            groups.append(Group(name, nxt, count, count))
            nxt += count
    if nxt - 1 > MAX_PILE_NO:
        raise ValueError(f"--first-pile-no {first_pile_no}: pile {nxt - 1} has over 14 digits")
    return groups


@dataclass(frozen=True)
class LoadPlan:
    """A load run; :meth:`scenario` makes its sessions, :meth:`ramp` its power-up times."""

    groups: tuple[Group, ...]
    duration_s: float
    ramp_s: float = 60.0
    sessions_per_pile_hour: float = 0.5
    session_minutes: tuple[float, float] = (10.0, 40.0)
    app_share: float = 0.0
    seed: int = 1
    speed: float = 1.0
    faults: LinkFaults = field(default_factory=LinkFaults)

    @property
    def piles(self) -> int:
        return sum(g.piles for g in self.groups)

    def pile_numbers(self) -> list[str]:
        return [str(g.first_pile_no + i) for g in self.groups for i in range(g.piles)]

    def part(self, index: int, count: int) -> LoadPlan:
        """Worker ``index`` of ``count``: a contiguous share of every group's piles."""
        groups = []
        for g in self.groups:
            lo, hi = g.piles * index // count, g.piles * (index + 1) // count
            groups.append(Group(g.profile, g.first_pile_no + lo, hi - lo, g.users))
        # a group may be empty for a worker; keep the position (users are named per group)
        return replace(self, groups=tuple(groups))

    def scenario(self, epoch: datetime, *, all_users: bool = False) -> Scenario:
        """The sessions of every pile (one scenario, groups side by side), steps moved past
        the ramp and cut at the end; ``all_users``: keep users no step names (a site)."""
        scenarios = []
        for k, g in enumerate(self.groups):
            spec = WorkloadSpec(
                profile=g.profile,
                piles=max(1, g.piles),
                days=(self.duration_s + 4 * 3600) / 86400,
                seed=self.seed,
                sessions_per_pile_day=24 * (self.sessions_per_pile_hour or 1.0),
                hourly=(1.0,) * 24,
                app_share=self.app_share,
                full_share=0.0,
                desired_minutes=self.session_minutes,
                epoch=epoch,
                first_pile_no=g.first_pile_no,
                users=max(1, g.users or g.piles),
                arrivals_until_s=max(0.0, self.duration_s - self.ramp_s)
                if self.sessions_per_pile_hour
                else 0.0,
            )
            rng = random.Random(f"{self.seed}:{k}:{g.first_pile_no}")
            scenario = station_workload(spec, rng, name=f"load:{g.profile}")
            if not g.piles:
                scenario = scenario.model_copy(update={"piles": [], "timeline": []})
            scenarios.append(scenario)
        name = f"load:{self.piles}x" + "+".join(g.profile for g in self.groups)
        # one group: its scenario as it is (side_by_side's dump and re-validation cost a
        # copy of every pile, vehicle and step at peak memory)
        merged = scenarios[0] if len(scenarios) == 1 else side_by_side(scenarios, name)
        timeline = [
            s.model_copy(update={"at": s.at + self.ramp_s})
            for s in merged.timeline
            if s.at + self.ramp_s < self.duration_s
        ]
        meta = merged.meta.model_copy(
            update={"duration": self.duration_s, "seed": self.seed, "name": name}
        )
        merged = merged.model_copy(update={"meta": meta, "timeline": timeline})
        return merged if all_users else users_in_use(merged)

    def ramp(self) -> dict[str, float]:
        """Each pile's power-up time, uniform over the ramp (seeded)."""
        rng = random.Random(f"{self.seed}:ramp")
        return {p: rng.uniform(0.0, self.ramp_s) for p in self.pile_numbers()}
