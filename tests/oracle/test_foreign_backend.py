"""Frames-only verdicts, deviations and diagnostics against a *third-party* YKC backend.

The backend is :mod:`tests.oracle.foreign_server` — its own thread, a real TCP socket on
127.0.0.1 — scripted to break the spec the way field backends do (issue 11 items 4, 5).
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from simrig.exit_codes import ExitCode
from simrig.oracle.views import AckState
from simrig.report import print_report, result_to_dict
from simrig.report.folder import exit_code
from simrig.scenarios import parse_scenario
from simrig.scenarios.loader import library_path
from simrig.sim.runner import run_scenario

from .foreign_server import Script, foreign_backend

SPEED = 60.0  # 5 scenario-minutes in 5 s; 30 scenario-seconds are 0.5 s of slack


def short_session():
    """basic_card_session squeezed: plug, card start, 3 min charging, card stop, unplug."""
    text = library_path("basic_card_session").read_text()
    text = text.replace('duration = "1h"', 'duration = "6m"')
    text = text.replace('at = "10:01:00"', 'at = "10:00:20"').replace('"+20m"', '"+3m"')
    text = text.replace('at = "+3m"\ndo = "unplug"', 'at = "+1m"\ndo = "unplug"')
    return parse_scenario(text)


def run_against(script: Script, speed: float = SPEED):
    with foreign_backend(script) as (url, seen):
        result = run_scenario(short_session(), backend=url, speed=speed)
    return result, seen


def test_an_ack_with_an_unknown_result_is_never_bill_lost():
    """0x40 result 0x07 (§4.12 knows 0x00/0x01): before issue 11 this was code 1."""
    result, seen = run_against(Script(ack_result=0x07))
    assert 0x3B in seen.received
    [verdict] = result.verdicts
    assert 1 not in verdict.codes and 2 not in verdict.codes
    [order] = verdict.orders
    assert order.bill_state == AckState.UNKNOWN_RESULT
    assert order.device_bill.ack_result == 0x07
    assert any("result 0x07" in n and "unknown whether it was billed" in n for n in verdict.notes)
    kinds = {d.kind for d in result.deviations[verdict.truth.pile_no]}
    assert "enum" in kinds
    assert result.backend_status == "ok"
    # basic_card_session expects billed=true: the rig cannot confirm it, and says why
    [expectation] = result.expectations
    assert not expectation.passed and "billed=unknown" in expectation.actual
    # shown per pile in results.json and in the console / summary.txt
    doc = result_to_dict(result)
    assert doc["deviations"][verdict.truth.pile_no]["counts"]["enum"] >= 1
    assert doc["sessions"][0]["orders"][0]["bill_state"] == "unknown_result"
    console = Console(record=True, width=200, file=io.StringIO())
    print_report([result], console)
    text = console.export_text()
    assert "Backend deviations" in text and "record_ack.result = 0x07" in text


def test_a_conformant_foreign_backend_bills_and_prices_with_its_own_model():
    """No deviation at all; the fair price uses the 0x0A the backend pushed (1.0 + 0.5
    yuan/kWh in every half hour), not the scenario's tariff."""
    result, _ = run_against(Script(rate=1.0, service=0.5))
    [verdict] = result.verdicts
    assert verdict.codes == frozenset()
    assert verdict.orders[0].bill_state == AckState.ACKED
    assert result.deviations == {}
    assert verdict.truth.energy_kwh > 1
    assert verdict.fair_yuan == pytest.approx(verdict.truth.energy_kwh * 1.5, abs=0.01)
    assert any("billing model the backend pushed" in n for n in verdict.notes)
    assert result.diagnostics[0].status == "ok"


def test_an_out_of_range_loss_ratio_is_a_deviation_not_taken():
    result, _ = run_against(Script(loss_ratio=150))
    pile = result.diagnostics[0].pile_no
    ranges = [d for d in result.deviations[pile] if d.kind == "range"]
    assert ranges and "loss ratio 150" in ranges[0].detail
    [verdict] = result.verdicts
    assert any("out of range" in n and "not used for the fair price" in n for n in verdict.notes)


def test_unechoed_sequence_numbers_are_listed():
    result, _ = run_against(Script(echo_seq=False))
    devs = result.deviations[result.diagnostics[0].pile_no]
    seq = [d for d in devs if d.kind == "seq_not_echoed"]
    assert seq and "0x02 login_reply seq 00 00" in seq[0].detail
    assert result.verdicts[0].codes == frozenset()  # a deviation is not an anomaly code


def test_a_missing_card_auth_reply_is_diagnosed_with_its_frame():
    result, _ = run_against(Script(ignore=frozenset({0x31})))
    [diag] = result.diagnostics
    [problem] = [p for p in diag.problems if p.kind == "no 0x32 to 0x31"]
    assert problem.evidence and bytes.fromhex(problem.evidence[0])[5] == 0x31
    assert result.backend_status == "ok"  # the pile logged in: judged, not excused


def test_a_refused_login_is_incompatible_and_stops_early():
    result, _ = run_against(Script(login_ok=False))
    assert result.backend_status == "incompatible"
    assert "login refused" in result.diagnostics[0].line()
    assert result.stopped_early
    assert all(e.t < 120 for e in result.events)  # given up long before the 6-min end
    assert all(not e.passed and "not judged" in e.actual for e in result.expectations)


def test_a_backend_that_does_not_speak_ykc_is_named_so():
    result, _ = run_against(Script(garbage=b"HTTP/1.1 400 Bad Request\r\n\r\n"))
    assert result.backend_status == "incompatible"
    line = result.diagnostics[0].line()
    assert "non-YKC reply" in line and "48 54 54 50" in line
    assert all(not v.codes and v.not_judged for v in result.verdicts)


def test_a_run_that_ends_before_any_answer_is_untested_not_a_dead_backend():
    """20 scenario seconds: the pile connects and logs in, the run ends before any login
    reply could be missed. No failure was seen, so the backend is "untested" — sessions
    not judged, exit 1 — never "unreachable"/"incompatible" (exit 3), which would blame
    it for a run too short (or a rig too late) to test it."""
    text = (
        library_path("basic_card_session")
        .read_text()
        .replace('duration = "1h"', 'duration = "20s"')
    )
    with foreign_backend(Script(ignore=frozenset({0x01}))) as (url, seen):
        result = run_scenario(parse_scenario(text), backend=url, speed=SPEED)
    assert 0x01 in seen.received  # the login reached the backend: no time to be late
    assert result.backend_status == "untested" and not result.backend_failed
    assert "the run ended first" in result.diagnostics[0].line()
    assert all("the run ended before any pile logged in" in v.not_judged for v in result.verdicts)
    assert exit_code([result]) == ExitCode.EXPECTATIONS_FAILED
