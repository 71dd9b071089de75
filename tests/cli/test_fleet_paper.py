"""Fleet shards send BMS telemetry on paper (0x23 / 0x25 counted, not encoded, framed,
decoded and stored), carry each 0x13 decoded instead of as bytes and without its
readings (the platform stores no realtime sample), and sample no truth:
the verdicts, the platform's own flags and the device view are the same as with every
frame on the wire, for a clean profile and one with quirks."""

from __future__ import annotations

import dataclasses

import pytest

from simrig.cli.fleet import plan_fleet, shard_scenario
from simrig.endpoint import Event
from simrig.firmware_models.wire import Wire
from simrig.oracle.device_view import decode_chunks, device_orders
from simrig.protocol.ykc import GunStatus, RealtimeData
from simrig.scenarios.workload import WorkloadSpec
from simrig.sim.keep import VERDICTS_ONLY
from simrig.sim.runner import run_scenario


@pytest.mark.parametrize("profile", ["sinexcel-dc@2090104", "sinexcel-dc@2090404"])
def test_bms_on_paper_changes_no_verdict_and_no_platform_flag(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = WorkloadSpec(profile="", days=8, seed=5, sessions_per_pile_day=4.0)
    scenario = shard_scenario(plan_fleet(spec, 120), profile, 0, 0, None)
    counted: list[int] = []
    on_paper = Wire.on_paper

    def counting(wire: Wire, count: int) -> None:
        counted.append(count)
        on_paper(wire, count)

    monkeypatch.setattr(Wire, "on_paper", counting)
    wire = run_scenario(scenario)
    assert counted == []
    paper = run_scenario(scenario, keep=VERDICTS_ONLY)
    assert sum(counted) > 1000  # the BMS frames of every charging 15 s went on paper
    assert len(paper.verdicts) == len(wire.verdicts) > 100
    assert paper.verdicts == wire.verdicts
    assert any(v.codes for v in wire.verdicts) or profile.endswith("0404")

    def flags(events: list[Event]) -> list[tuple[object, ...]]:
        return [dataclasses.astuple(e) for e in events if e.kind in ("anomaly", "bill")]

    assert flags(paper.events) == flags(wire.events)
    assert paper.chunks != wire.chunks  # the frames really differ on the wire
    assert paper.samples == [] and wire.samples
    # the 0x13 went decoded: most of the bytes are gone, the device view is the same
    assert wire.paper_realtime == [] and len(paper.paper_realtime) > 5000
    assert sum(len(c.data) for c in paper.chunks) < sum(len(c.data) for c in wire.chunks) / 4
    # the 0x13 on paper leave their readings out (no check reads them); on the wire
    # the charging ones carry them
    assert {p.frame.message.voltage for p in paper.paper_realtime} == {0.0}
    charging = [
        f.message
        for _, f in decode_chunks(wire.chunks, frozenset({RealtimeData.TYPE}))
        if f.message.status == GunStatus.CHARGING
    ]
    assert charging and all(m.voltage > 0 and m.soc > 0 for m in charging)
    orders = device_orders(paper.chunks, paper=paper.paper_realtime)
    assert orders == device_orders(wire.chunks)
    assert orders != device_orders(paper.chunks)  # (without the paper frames it differs)
