"""Heartbeat plans: the pile and the platform count the same heartbeats a real exchange
over the same link would have carried."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simrig.heartbeat_plan import HeartbeatPlan
from simrig.link import LinkModel

times = st.floats(min_value=0.0, max_value=5e6, allow_nan=False)
latencies = st.sampled_from([0.0, 0.02, 0.25, 0.5, 1.0, 3.3])


def _brute_sent_before(plan: HeartbeatPlan, t: float) -> int:
    k = plan.first_k - 1
    while plan.sent_at(k + 1) < min(t, plan.until):
        k += 1
    return k


def _answered(base: float, period: float, k: int, up: float, down: float, change: float) -> bool:
    """Would the link model deliver heartbeat ``k`` and its reply before ``change``?"""
    outage = [(change, change + 60.0)]
    sent = base + k * period
    there = LinkModel(None, latency_s=up, outages=outage).send(b"\x03", sent)
    if not there:
        return False
    back = LinkModel(None, latency_s=down, outages=outage).send(b"\x04", there[0][0])
    return bool(back)


@given(
    base=times,
    period=st.sampled_from([10.0, 15.0, 7.3]),
    first_k=st.integers(0, 500),
    span=st.floats(0.0, 2000.0),
    up=latencies,
    down=latencies,
)
def test_a_plan_covers_exactly_the_heartbeats_answered_before_the_link_changes(
    base, period, first_k, span, up, down
):
    change = base + first_k * period + span
    plan = HeartbeatPlan.on_link(base, period, first_k, up, down, change)
    last = plan.last_sent_before(math.inf)
    assert plan.until == plan.sent_at(last + 1)  # a plan ends on a heartbeat
    for k in range(first_k, last + 1):
        assert _answered(base, period, k, up, down, change)
    assert not _answered(base, period, last + 1, up, down, change)
    assert HeartbeatPlan.on_link(base, period, first_k, up, down).until == math.inf


@given(base=times, first_k=st.integers(0, 1000), t=times, until_k=st.integers(0, 300))
def test_last_sent_before_agrees_with_counting(base, first_k, t, until_k):
    plan = HeartbeatPlan(base, 10.0, first_k, base + (first_k + until_k) * 10.0)
    assert plan.last_sent_before(t) == _brute_sent_before(plan, t)


@given(base=times, first_k=st.integers(0, 1000), dt=st.floats(-50.0, 3000.0), latency=latencies)
def test_arrivals_before_an_instant_exclude_that_instant(base, first_k, dt, latency):
    plan = HeartbeatPlan(base, 10.0, first_k, math.inf, latency)
    t = plan.sent_at(first_k) + dt
    k = plan.last_arrived_before(t)
    if k >= first_k:
        assert plan.sent_at(k) + latency < t
    assert plan.sent_at(k + 1) + latency >= t
    arrival = plan.last_arrival_before(plan.sent_at(first_k + 3) + latency)
    assert arrival == plan.sent_at(first_k + 2) + latency  # the one arriving then not yet


def test_a_cut_plan_ends_on_the_first_real_heartbeat():
    plan = HeartbeatPlan(5.0, 10.0, 2, math.inf, 0.02)
    cut = plan.ended_at(7)
    assert cut.until == 75.0 and cut.last_sent_before(math.inf) == 6
    assert cut.last_arrival_before(1e9) == pytest.approx(65.02)
    assert cut.ended_at(9) is cut  # cutting later changes nothing
    with pytest.raises(ValueError, match="open-ended"):
        plan.last_sent_before(math.inf)
