"""A run's ``[[expect]]`` and ``[[expect_rate]]`` checked against the oracle's verdicts."""

from __future__ import annotations

from simrig.capture import Chunk
from simrig.oracle.device_view import refused_card_starts
from simrig.oracle.judge import SessionVerdict
from simrig.oracle.views import AckState
from simrig.scenarios import Scenario
from simrig.sim.results import ExpectationResult

__all__ = ["check_expectations", "check_rates", "refused_starts"]


def _billed(verdict: SessionVerdict, frames_only: bool) -> bool | None:
    """Was the session billed? From the platform's records, or (``frames_only``) from
    the backend's 0x40; None when only an ack with a result outside the spec says so."""
    if any(o.platform_bill is not None for o in verdict.orders):
        return True
    if not frames_only:
        return False
    bills = [o.device_bill for o in verdict.orders if o.device_bill is not None]
    if any(b.acked for b in bills):
        return True
    if any(b.ack_state is AckState.UNKNOWN_RESULT for b in bills):
        return None
    return False


def refused_starts(chunks: list[Chunk], verdict: SessionVerdict) -> int:
    """Card starts the platform refused (0x32 failure) during this plug-in."""
    truth = verdict.truth
    return sum(
        1
        for chunk, msg in refused_card_starts(chunks, truth.pile_no, truth.gun)
        if truth.plug_at <= chunk.at and (truth.unplug_at is None or chunk.at <= truth.unplug_at)
    )


def check_expectations(
    scenario: Scenario,
    verdicts: list[SessionVerdict],
    chunks: list[Chunk] | None = None,
    *,
    frames_only: bool = False,
) -> list[ExpectationResult]:
    """Check every ``[[expect]]``; ``frames_only``: no platform view, a bill counts as
    billed when the backend acknowledged it (0x40)."""
    by_key = {v.key: v for v in verdicts}
    results = []
    for exp in scenario.expect:
        key = f"{exp.pile}:{exp.gun}:{exp.session}"
        verdict = by_key.get(key)
        wanted = []
        problems = []
        if verdict is None:
            results.append(ExpectationResult(key, False, "a session", "no such plug-in session"))
            continue
        wanted.append(f"codes={list(exp.codes)}")
        if set(verdict.codes) != set(exp.codes):
            problems.append(f"codes={sorted(int(c) for c in verdict.codes)}")
        kinds = sorted({n.kind for n in verdict.false_notifications})
        if exp.false_notifications or kinds:
            wanted.append(f"false_notifications={sorted(exp.false_notifications)}")
            if sorted(set(exp.false_notifications)) != kinds:
                problems.append(f"false_notifications={kinds}")
        if exp.billed is not None:
            billed = _billed(verdict, frames_only)
            wanted.append(f"billed={exp.billed}")
            if billed is None:
                problems.append("billed=unknown (a 0x40 result outside §4.12: the rig cannot tell)")
            elif billed != exp.billed:
                problems.append(f"billed={billed}")
        if exp.min_overcharge_yuan is not None:
            wanted.append(f"overcharge>={exp.min_overcharge_yuan}")
            over = verdict.overcharge_yuan
            if over is None or over < exp.min_overcharge_yuan:
                problems.append(f"overcharge={over}")
        if exp.balance_below_yuan is not None:
            wanted.append(f"balance<{exp.balance_below_yuan}")
            balances = [
                o.platform_bill.balance_after_yuan
                for o in verdict.orders
                if o.platform_bill is not None and o.platform_bill.balance_after_yuan is not None
            ]
            if not balances or min(balances) >= exp.balance_below_yuan:
                problems.append(f"balance={min(balances) if balances else None}")
        if exp.refused_starts is not None:
            refused = refused_starts(chunks or [], verdict)
            wanted.append(f"refused_starts={exp.refused_starts}")
            if refused != exp.refused_starts:
                problems.append(f"refused_starts={refused}")
        actual = "as expected" if not problems else ", ".join(problems)
        results.append(ExpectationResult(key, not problems, ", ".join(wanted), actual))
    return results


def check_rates(scenario: Scenario, verdicts: list[SessionVerdict]) -> list[ExpectationResult]:
    """``[[expect_rate]]``: the share of sessions with a code, within a tolerance."""
    results = []
    total = len(verdicts)
    for exp in scenario.expect_rate:
        if exp.codes == "any":
            hits = sum(1 for v in verdicts if v.codes)
        elif exp.codes == "clean":
            hits = sum(1 for v in verdicts if not v.codes)
        else:
            wanted = {int(c) for c in exp.codes.split("+")}
            hits = sum(
                1
                for v in verdicts
                if (wanted <= set(v.codes) if exp.contains else wanted == set(v.codes))
            )
        rate = hits / total if total else 0.0
        ok = abs(rate - exp.rate) <= exp.tolerance
        results.append(
            ExpectationResult(
                f"rate:{exp.codes}",
                ok,
                f"{exp.rate:.3f}±{exp.tolerance:.3f}",
                f"{rate:.3f} ({hits}/{total})",
            )
        )
    return results
