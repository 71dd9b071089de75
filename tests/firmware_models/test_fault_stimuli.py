"""Stimuli a QA needs for the field cases (issue 14 item 3): a charging fault during a
session and a BMS that stops actively, in the firmware and through a scenario."""

import pytest

from simrig.protocol.ykc import StopReason, TransactionRecord
from simrig.scenarios import parse_scenario
from simrig.scenarios.loader import library_path
from simrig.sim.runner import run_scenario
from simrig.stimuli import BmsStop, CardScan, ChargingFault, Plug

from .peer import PileRig, vehicle

CARD = "00000000AABBCCDD"


@pytest.mark.parametrize(
    ("stimulus", "reason"),
    [(ChargingFault(1), StopReason.ABORT_OUTPUT_ABNORMAL), (BmsStop(1), StopReason.SOC_FULL)],
)
def test_the_pile_ends_the_session_with_its_reason_and_bills_it(stimulus, reason):
    rig = PileRig("generic-dc@1.0")
    rig.stim(5, Plug(1, vehicle(initial_soc=30)))
    rig.stim(10, CardScan(1, CARD))
    rig.stim(900, stimulus)
    rig.run(1000)
    [bill] = rig.peer.of(TransactionRecord)
    assert bill.stop_reason == reason and bill.total_energy > 1
    [truth] = rig.plant.truth_sessions()
    assert truth.charge_end == pytest.approx(900) and truth.soc_end < 90


def test_scenario_steps_charging_fault_and_bms_stop():
    base = library_path("basic_card_session").read_text()
    fault = base.replace('at = "+20m"\ndo = "card"', 'at = "+20m"\ndo = "charging_fault"', 1)
    assert fault != base
    [verdict] = run_scenario(parse_scenario(fault, source="fault.toml")).verdicts
    assert verdict.codes == frozenset()  # the bill of a faulted session is right
    assert [o.device_bill.stop_reason for o in verdict.orders] == [0x75]
    bms = base.replace('at = "+20m"\ndo = "card"', 'at = "+20m"\ndo = "bms_stop"', 1)
    [verdict] = run_scenario(parse_scenario(bms, source="bms.toml")).verdicts
    assert verdict.codes == frozenset() and verdict.orders[0].device_bill.stop_reason == 0x41
