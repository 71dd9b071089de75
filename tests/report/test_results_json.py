"""The results JSON: fields, ISO times, round trip."""

import json
from datetime import datetime

import pytest

from simrig.report.results_json import load_results_json, result_to_dict, write_results_json

from .builders import PILE_A, at, key


def test_result_to_dict_fields(result_a):
    d = result_to_dict(result_a)
    assert json.loads(json.dumps(d)) == d  # JSON-ready: plain types only
    assert (d["scenario"], d["case"], d["backend"], d["seed"]) == (
        "zshy_case23_repeated_stop",
        "zshy_case#23",
        "embedded",
        7,
    )
    assert d["passed"] is False
    assert d["profiles"] == {PILE_A: "sinexcel-dc@2090104"}
    assert d["stats"]["sessions"] == 3 and d["stats"]["anomalous"] == 2
    assert d["offline"] == {PILE_A: [[2880.0, 3180.0]]}
    assert len(d["expectations"]) == 4
    clean, lost, combo = d["sessions"]
    assert clean["key"] == key(PILE_A, 1) and clean["codes"] == [] and clean["passed"] is True
    assert datetime.fromisoformat(clean["truth"]["charge_start"]) == at(1)
    assert datetime.fromisoformat(clean["truth"]["unplug_at"]) == at(25)
    bill = clean["orders"][0]["device_bill"]
    assert datetime.fromisoformat(bill["trade_time"]) == at(21.2)
    assert bill["acked"] is True and bill["energy_kwh"] == 20.0
    assert clean["orders"][0]["platform_bill"]["total_charged_yuan"] == 30.0
    assert clean["orders"][0]["platform_session"]["state"] == "finished"
    assert (clean["charged_yuan"], clean["fair_yuan"], clean["overcharge_yuan"]) == (30, 30, 0)
    assert lost["codes"] == [1] and lost["billed_kwh"] is None
    assert lost["orders"][0]["device_bill"] is None
    assert lost["notes"] == [f"{lost['orders'][0]['serial']}: no bill reached the platform"]
    assert lost["overcharge_yuan"] == -30.0
    assert combo["codes"] == [9, 11] and combo["label"] == "9+11"
    assert combo["false_notifications"][0]["kind"] == "charge_finished"
    assert datetime.fromisoformat(combo["false_notifications"][0]["at"]) == at(70)
    assert combo["expectations"] == [
        {"key": key(PILE_A, 3), "passed": False, "expected": "9", "actual": "9+11"}
    ]
    assert combo["passed"] is False and combo["evidence"] == ["68aa"]


def test_write_and_load_round_trip(result_a, result_b, tmp_path):
    path = write_results_json([result_a, result_b], tmp_path / "out" / "results.json")
    runs = load_results_json(path)
    assert runs == [result_to_dict(result_a), result_to_dict(result_b)]
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == 1 and doc["passed"] is False
    summary = {s["profile"]: s for s in doc["summary"]}
    assert summary["sinexcel-dc@2090104"]["by_label"] == {"1": 1, "9+11": 1}
    assert summary["sinexcel-dc@2090404"]["sessions"] == 4


def test_load_rejects_other_documents(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"runs": []}')
    with pytest.raises(ValueError, match="not a simrig results document"):
        load_results_json(path)
    path.write_text('{"version": 1}')
    with pytest.raises(ValueError, match="runs"):
        load_results_json(path)


def test_record_keys_are_their_fields_minus_the_repeated_ones(result_a):
    clean = result_to_dict(result_a)["sessions"][0]
    order = clean["orders"][0]
    assert list(clean["truth"]) == [
        "pile_no",
        "gun",
        "index",
        "plug_at",
        "unplug_at",
        "charge_start",
        "charge_end",
        "energy_kwh",
        "link_down_at_charge_end",
        "episodes",
    ]
    assert list(order) == [
        "serial",
        "codes",
        "device_bill",
        "platform_bill",
        "platform_session",
        "notes",
        "bill_state",
    ]
    assert list(order["device_bill"]) == [
        "serial",
        "start",
        "end",
        "trade_time",
        "energy_kwh",
        "amount_yuan",
        "stop_reason",
        "sent_at",
        "acked",
        "frame_hex",
        "ack_state",
        "ack_result",
        "acked_at",
        "transmissions",
        "ack_hex",
    ]
    assert list(order["platform_bill"]) == [
        "serial",
        "start",
        "end",
        "service_end",
        "energy_kwh",
        "amount_yuan",
        "occupancy_fee_yuan",
        "total_charged_yuan",
        "received_at",
        "illegal",
    ]
    assert list(order["platform_session"]) == [
        "serial",
        "state",
        "created_at",
        "charge_start",
        "charge_end",
        "service_end",
        "last_energy_kwh",
        "close_reason",
    ]
