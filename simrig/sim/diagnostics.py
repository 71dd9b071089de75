"""After a real-time run: diagnostics and backend deviations, before any verdict is read.

:func:`assess_backend` fills a :class:`~simrig.sim.results.RunResult` with the per-pile
diagnostics (:mod:`simrig.oracle.diagnostics`) and the backend's deviations from the
spec (:mod:`simrig.oracle.deviations`). When the backend was unreachable or incompatible
(no pile ever logged in) every session is marked "not judged" and its expectations fail
as "not judged" — a dead backend is never reported as a lost bill (issue 11 item 5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from simrig.link import Link
from simrig.oracle.deviations import backend_deviations
from simrig.oracle.diagnostics import GiveUp, backend_status, diagnose
from simrig.scenarios import Scenario
from simrig.sim.lateness import Lateness, slow_replies, unjudge_where_late
from simrig.sim.results import RunResult

__all__ = ["GiveUp", "assess_backend", "judge_rig_lateness"]


def assess_backend(result: RunResult, scenario: Scenario, stopped_early: str = "") -> None:
    """Diagnose the run's links, list backend deviations, mark verdicts not judged if need be."""
    piles = [p.pile_no for p in scenario.piles]
    diagnoses = diagnose(piles, result.events, result.chunks)
    result.diagnostics = [diagnoses[p] for p in piles]
    corrupts = any(n.corrupt > 0 for n in scenario.network)
    result.deviations = backend_deviations(result.chunks, link_corrupts=corrupts)
    result.backend_status = backend_status(diagnoses)
    result.stopped_early = stopped_early
    if result.backend_status == "ok":
        return
    reason = f"backend {result.backend_status}"
    if result.backend_status == "untested":
        reason += ": the run ended before any pile logged in, with no failure seen"
    result.verdicts = [v.unjudged(reason) for v in result.verdicts]
    result.expectations = [
        dataclasses.replace(e, passed=False, actual=f"not judged ({reason})")
        for e in result.expectations
    ]


def judge_rig_lateness(
    result: RunResult, lateness: Lateness, speed: float, links: Mapping[str, Link]
) -> None:
    """Say where the rig itself ran late, or the backend's stall was sped up past what the
    rig can tell, and do not judge the sessions blamed there (:mod:`simrig.sim.lateness`)."""
    slow_replies(result.events, links, lateness, speed)
    lateness.settle()
    result.rig_late = [
        spell.text(pile, speed) for pile, spells in lateness.spells.items() for spell in spells
    ]
    if result.rig_late:
        result.verdicts, result.expectations = unjudge_where_late(
            result.verdicts, result.expectations, lateness, result.seconds, result.duration_s, speed
        )
