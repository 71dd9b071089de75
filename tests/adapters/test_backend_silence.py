"""A backend that pauses for a blink at a high ``--speed`` (:class:`~simrig.sim.lateness.
BackendSilences`): ``simrig platform serve`` in its own process, stopped with SIGSTOP for
0.15 s of real time in the middle of a charge at 600×, is 90 scenario seconds silent; the
pile gives it up after three unanswered heartbeats. At real speed that pause would change
nothing, so the rig says where the backend went silent and how briefly, and a session
it would code there is "not judged" (:func:`~simrig.sim.lateness.unjudge_where_late`,
tests/sim/test_lateness.py), never coded against the backend: a fresh-clone CI once
coded 9 on such a run. The reference platform rides the pause out and bills right, so
the session here stays judged and clean: a clean session is never unjudged."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from simrig.adapters.embedded_server import EmbeddedServer
from simrig.scenarios import load_scenario
from simrig.sim.runner import run_scenario

pytestmark = pytest.mark.realtime

SPEED = 600.0
#: scenario second the platform is stopped at (the charge runs from t=90 s to t=1290 s)
PAUSE_AT_S = 600.0
PAUSE_REAL_S = 0.15


def _pause(pid: int, at_monotonic: float) -> None:
    time.sleep(max(0.0, at_monotonic - time.monotonic()))
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(PAUSE_REAL_S)
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_backend_paused_for_a_blink_at_600x_is_reported_as_too_short_to_judge() -> None:
    scenario = load_scenario("basic_card_session")
    with EmbeddedServer(scenario, speed=SPEED) as server:
        assert server.server is not None
        pid = server.server.proc.pid
        at = server.start_monotonic + PAUSE_AT_S / SPEED
        pauser = threading.Thread(target=_pause, args=(pid, at), daemon=True)
        pauser.start()
        result = run_scenario(
            scenario,
            backend=f"tcp://127.0.0.1:{server.port}",
            speed=SPEED,
            start_monotonic=server.start_monotonic,
        )
        pauser.join()
    pile = scenario.piles[0].pile_no
    lost = [e.t for e in result.events if e.kind == "heartbeat_lost"]
    assert lost and all(PAUSE_AT_S < t < PAUSE_AT_S + 200 for t in lost), lost
    [said] = result.rig_late
    assert said.startswith(f"{pile}: the backend was silent "), said
    real_ms = float(said.split(" ms real at ")[0].rsplit(", ", 1)[1])
    assert PAUSE_REAL_S * 1000 <= real_ms < 1000 and f"ms real at {SPEED:g}x" in said
    assert said.endswith(
        "and the pile gave it up: too short to tell an outage from a hiccup; "
        "judge it at a lower --speed"
    )
    [verdict] = result.verdicts
    assert verdict.judged and not verdict.codes and result.passed
