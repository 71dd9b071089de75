"""The run's one time mapping (issue 11 item 2) and the shared truth sampler (item 6)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from simrig.plant import PileSpec, Plant
from simrig.sim.sampling import TruthSampler
from simrig.sim.time_mapping import TimeMapping

T0 = datetime(2026, 3, 1, 9, 30)


def test_scenario_wall_and_loop_times_map_both_ways():
    m = TimeMapping(T0, speed=60.0, loop_t0=1000.0)
    assert m.wall(90.0) == T0 + timedelta(seconds=90)
    assert m.scenario_time(T0 + timedelta(minutes=2)) == 120.0
    assert m.loop_time(120.0) == pytest.approx(1002.0)
    assert m.scenario_at(1002.0) == pytest.approx(120.0)


def test_starting_now_puts_the_wall_epoch_at_scenario_start():
    """Default "scenario start = now": the wall clock read with the monotonic one, moved
    to where t=0 lies; a pinned backend clock wins."""
    now, mono = datetime(2026, 3, 1, 9, 30, 0), 500.0
    m = TimeMapping.starting_now(now, mono, speed=10.0, loop_t0=500.25)
    assert m.wall_epoch == now + timedelta(seconds=0.25)
    assert m.loop_t0 == 500.25 and m.speed == 10.0
    pinned = TimeMapping.starting_now(now, mono, loop_t0=501.0, wall_epoch=datetime(2030, 1, 1))
    assert pinned.wall(0.0) == datetime(2030, 1, 1)


def test_an_unanchored_mapping_refuses_loop_times_until_anchored():
    m = TimeMapping(T0, speed=2.0)
    with pytest.raises(ValueError, match="not anchored"):
        m.loop_time(1.0)
    anchored = m.anchored(10.0)
    assert anchored.loop_time(4.0) == 12.0
    assert anchored.anchored(99.0) is anchored  # anchoring twice keeps the first
    with pytest.raises(ValueError, match="speed"):
        TimeMapping(T0, speed=0.0)


def test_the_sampler_samples_at_most_every_period_and_right_after_a_stimulus():
    plant = Plant()
    plant.add_pile("55031412782305", PileSpec(kind="DC", guns=2, max_power_kw=60))
    sampler = TruthSampler(plant, every_s=15.0)
    for t in (0.0, 5.0, 14.9, 15.0, 20.0):
        sampler.on_send("55031412782305", t)
    sampler.stimulus()
    sampler.on_send("55031412782305", 21.0)
    times = [(s.t, s.gun) for s in sampler.samples]
    assert times == [(0.0, 1), (0.0, 2), (15.0, 1), (15.0, 2), (21.0, 1), (21.0, 2)]
