"""Truth sampled at plant changes, not only when the pile sends (issue 14 item 7)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from simrig.adapters.virtual import VirtualDriver
from simrig.plant import PhysicalPile, PileSpec, Plant, VehicleSpec
from simrig.scenarios import parse_scenario
from simrig.sim.keep import Keep
from simrig.sim.results import RunResult, TruthSample
from simrig.sim.runner import run_scenario
from simrig.sim.sampling import TruthSampler

PILE = "55031412782305"
OUTAGE = Path(__file__).parents[1] / "oracle" / "restart_after_outage.toml"
#: truth times reach the verdicts as datetimes (microseconds)
US = 1e-6
CAR = VehicleSpec(capacity_kwh=60, initial_soc=30, max_power_kw=60, handshake_s=20)


def _plant(guns: int = 2) -> Plant:
    plant = Plant()
    plant.add_pile(PILE, PileSpec(kind="DC", guns=guns, max_power_kw=120, shared_power=True))
    return plant


def drawn(samples: list[TruthSample], gun: int, t: float) -> TruthSample:
    """The sample a step-wise timeline shows at ``t``: the last one at or before it."""
    before = [s for s in samples if s.gun == gun and s.t <= t]
    return sorted(before, key=lambda s: s.t)[-1]


def test_the_plant_tells_its_listeners_each_change_with_its_state_already_valid():
    plant = _plant()
    seen: list[tuple[float, bool, float]] = []

    def listener(pile: PhysicalPile, now: float) -> None:
        gun = pile.gun(1)
        seen.append((now, gun.charging(now), gun.power_kw(now)))

    plant.add_listener(listener)
    gun = plant.gun(PILE, 1)
    gun.plug(10.0, CAR)
    gun.close_contactor(11.0)
    gun.begin_handshake(11.0)
    assert gun.charging(100.0)  # the handshake's end (31 s) is told when it fires
    gun.open_contactor(200.0)
    plant.remove_listener(listener)
    gun.unplug(300.0)
    assert seen == [
        (10.0, False, 0.0),
        (11.0, False, 0.0),
        (11.0, False, 0.0),
        (31.0, True, 60.0),
        (200.0, False, 0.0),
    ]
    with pytest.raises(ValueError):
        plant.remove_listener(listener)


def test_the_sampler_keeps_one_sample_per_gun_per_instant_and_stops_when_unwatched():
    plant = _plant()
    sampler = TruthSampler(plant)
    gun = plant.gun(PILE, 1)
    gun.plug(10.0, CAR)
    gun.close_contactor(11.0)
    gun.begin_handshake(11.0)  # a second change at 11 s: overwrites the first's sample
    plant.advance(40.0)  # the handshake ended at 31 s: told at its own instant
    sampler.unwatch()
    gun.open_contactor(50.0)
    rows = [(s.t, s.gun, s.plugged, s.charging, s.power_kw) for s in sampler.samples]
    assert rows == [
        (10.0, 1, True, False, 0.0),
        (10.0, 2, False, False, 0.0),
        (11.0, 1, True, False, 0.0),
        (11.0, 2, False, False, 0.0),
        (31.0, 1, True, True, 60.0),
        (31.0, 2, False, False, 0.0),
    ]
    sampler.unwatch()  # idempotent
    assert not TruthSampler(plant, watch=False).watching


@pytest.fixture(scope="module")
def outage_run() -> RunResult:
    """generic-dc@1.0 stops itself 120 s after going offline; the user restarts later."""
    return run_scenario(parse_scenario(OUTAGE.read_text(), source=str(OUTAGE)))


def test_the_truth_shows_no_power_from_the_piles_own_stop_during_an_outage(outage_run):
    result = outage_run
    [verdict] = result.verdicts
    truth = verdict.truth
    (_, first_end), (second_start, _) = truth.episodes
    assert first_end is not None
    stop, restart = result.seconds(first_end), result.seconds(second_start)
    [(offline_from, offline_until)] = result.offline[PILE]
    assert stop == pytest.approx(offline_from + 120.0, abs=0.5)  # the pile's own stop
    assert stop < offline_until < restart  # no frame between the stop and the reconnect
    samples = result.samples
    assert drawn(samples, 1, stop - 1.0).power_kw == pytest.approx(60.0)
    at_stop = drawn(samples, 1, stop + US)
    assert at_stop.t == pytest.approx(stop, abs=US)  # sampled at the stop itself
    assert (at_stop.power_kw, at_stop.charging, at_stop.plugged) == (0.0, False, True)
    during = [s for s in samples if s.gun == 1 and stop - US <= s.t < restart]
    assert during and all(s.power_kw == 0.0 and not s.charging for s in during)
    # the meter stands still from the stop to the restart
    assert len({s.meter_kwh for s in during}) == 1
    assert drawn(samples, 1, restart).power_kw == pytest.approx(60.0)  # restart: a step up


def test_sampling_at_changes_alters_nothing_of_the_run(outage_run, monkeypatch):
    """The listener only reads the plant at the instant it changed: frames and verdicts
    are those of a run whose sampler samples at sends only."""
    monkeypatch.setattr(TruthSampler, "watch", lambda self: None)
    sends_only = run_scenario(parse_scenario(OUTAGE.read_text(), source=str(OUTAGE)))
    assert len(sends_only.samples) < len(outage_run.samples)
    assert [c.data for c in sends_only.chunks] == [c.data for c in outage_run.chunks]
    assert sends_only.verdicts == outage_run.verdicts


@pytest.mark.parametrize("sample_truth", [True, False])
def test_the_virtual_driver_watches_the_plant_only_when_it_samples_truth(sample_truth):
    plant = _plant(guns=1)
    world = SimpleNamespace(core=object(), piles={}, pile_action_times={}, plant=plant)
    driver = VirtualDriver(world, keep=Keep(truth_samples=sample_truth))  # type: ignore[arg-type]
    plant.gun(PILE, 1).plug(5.0, CAR)
    assert len(driver.samples) == (1 if sample_truth else 0)


#: the outage scenario cut to its first charge: plug, card, an outage the pile stops in
SHORT_OUTAGE = """
[meta]
name = "offline_stop_real_time"
seed = 1
epoch = 2019-10-29T10:00:00
duration = "360s"

[[piles]]
pile_no = "55031412782305"
profile = "generic-dc@1.0"

[[vehicles]]
name = "car"
capacity_kwh = 60
initial_soc = 30
max_power_kw = 60
handshake_s = 20

[[users]]
name = "alice"
card = "00000000D14B0A54"
logical_card = "1000000573"
balance = 100.0

[[network]]
outages = [["10:02:30", "10:05:30"]]

[[timeline]]
at = "10:00:05"
do = "plug"
pile = "55031412782305"
vehicle = "car"

[[timeline]]
at = "+5s"
do = "card"
pile = "55031412782305"
user = "alice"
"""


def test_a_real_time_run_samples_the_piles_own_stop_while_it_sends_nothing():
    """Over real sockets (the embedded platform on TCP, 80x): the pile's stop 120 s
    into the outage is sampled at its instant, although the pile sent nothing then.
    (The outage starts 2.5 min in: a loaded machine may start the platform a second
    late, and the plug and card then come late by that much scenario time.)"""
    scenario = parse_scenario(SHORT_OUTAGE, source="offline_stop_real_time.toml")
    result = run_scenario(scenario, backend="embedded-tcp", speed=80.0)
    [verdict] = result.verdicts
    truth = verdict.truth
    assert truth.charge_start is not None and truth.charge_end is not None
    stop = result.seconds(truth.charge_end)
    assert 150.0 + 120.0 <= stop < 330.0  # the pile's own stop, inside the outage
    sent_near = [
        c for c in result.chunks if c.direction == "up" and abs(result.seconds(c.at) - stop) < 1
    ]
    assert sent_near == []  # no send to sample at: the sample comes from the plant
    at_stop = drawn(result.samples, 1, stop + US)
    assert at_stop.t == pytest.approx(stop, abs=US)
    assert (at_stop.power_kw, at_stop.charging, at_stop.plugged) == (0.0, False, True)
    assert drawn(result.samples, 1, stop - 1.0).power_kw == pytest.approx(60.0)
