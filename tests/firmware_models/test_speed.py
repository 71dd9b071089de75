"""The speed part (heartbeats on paper, idle elision) behind the typed seam (issue 10 item 4)."""

from __future__ import annotations

import random

from simrig.firmware_models.pile import PileFirmware
from simrig.firmware_models.speed import PileSpeed
from simrig.runner import run_scenario
from simrig.scenarios.loader import load_scenario
from simrig.scenarios.workload import WorkloadSpec, station_workload


def test_the_pile_hands_the_driver_its_speed_part_not_itself():
    rig = _one_pile()
    assert isinstance(rig.speed, PileSpeed) and rig.speed is not rig
    assert rig.speed is rig.speed  # one part per pile


def test_the_timer_after_an_elision_is_the_one_a_full_scan_gives(monkeypatch):
    """The driver re-arms an elided pile from what moved; the pile's full deadline scan
    (its ``get_timer``) agrees, every time."""
    owners: dict[int, PileFirmware] = {}
    init = PileFirmware.__init__

    def remember(self, *args, **kwargs):
        init(self, *args, **kwargs)
        owners[id(self.speed)] = self

    checked = []
    original = PileSpeed.timer_after_elision

    def compare(self, idle_until, quiet=()):
        quick = original(self, idle_until, quiet)
        checked.append(quick == owners[id(self)].get_timer())
        return quick

    monkeypatch.setattr(PileFirmware, "__init__", remember)
    monkeypatch.setattr(PileSpeed, "timer_after_elision", compare)
    spec = WorkloadSpec(profile="sinexcel-dc@2090104", piles=4, days=1, seed=6)
    run_scenario(station_workload(spec, random.Random(spec.seed)))
    for name in ("zshy_case_23", "igo_case_29"):
        run_scenario(load_scenario(name))
    assert len(checked) > 30 and all(checked)


def _one_pile() -> PileFirmware:
    from .peer import PileRig

    return PileRig("sinexcel-dc@2090104").pile
