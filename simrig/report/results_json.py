"""The results JSON: one JSON-ready dict per run, written and read back as plain dicts.

Document shape (``version`` 1)::

    {"version": 1, "passed": bool,
     "summary": [ProfileStats.to_dict(), ...],
     "runs": [result_to_dict(run), ...]}

Times are ISO 8601 strings (the scenario's wall clock, naive as in the run).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from simrig.billing.anomaly import combo_label
from simrig.billing.oracle import OrderVerdict, SessionVerdict
from simrig.billing.views import (
    DeviceBill,
    PlatformBill,
    PlatformNotification,
    PlatformSession,
    TruthRecord,
)
from simrig.results import ExpectationResult, RunResult

from .stats import profile_of, stats_by_profile
from .tables import billed_kwh

__all__ = [
    "VERSION",
    "load_results_json",
    "result_to_dict",
    "results_document",
    "write_results_json",
]

VERSION = 1


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _truth(t: TruthRecord) -> dict[str, Any]:
    return {
        "pile_no": t.pile_no,
        "gun": t.gun,
        "index": t.index,
        "plug_at": _iso(t.plug_at),
        "unplug_at": _iso(t.unplug_at),
        "charge_start": _iso(t.charge_start),
        "charge_end": _iso(t.charge_end),
        "energy_kwh": t.energy_kwh,
        "link_down_at_charge_end": t.link_down_at_charge_end,
    }


def _device_bill(b: DeviceBill | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {
        "serial": b.serial,
        "start": _iso(b.start),
        "end": _iso(b.end),
        "trade_time": _iso(b.trade_time),
        "energy_kwh": b.energy_kwh,
        "amount_yuan": b.amount_yuan,
        "stop_reason": b.stop_reason,
        "sent_at": _iso(b.sent_at),
        "acked": b.acked,
        "frame_hex": b.frame_hex,
    }


def _platform_bill(b: PlatformBill | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {
        "serial": b.serial,
        "start": _iso(b.start),
        "end": _iso(b.end),
        "service_end": _iso(b.service_end),
        "energy_kwh": b.energy_kwh,
        "amount_yuan": b.amount_yuan,
        "occupancy_fee_yuan": b.occupancy_fee_yuan,
        "total_charged_yuan": b.total_charged_yuan,
        "received_at": _iso(b.received_at),
        "illegal": b.illegal,
    }


def _platform_session(s: PlatformSession | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "serial": s.serial,
        "state": s.state,
        "created_at": _iso(s.created_at),
        "charge_start": _iso(s.charge_start),
        "charge_end": _iso(s.charge_end),
        "service_end": _iso(s.service_end),
        "last_energy_kwh": s.last_energy_kwh,
        "close_reason": s.close_reason,
    }


def _order(o: OrderVerdict) -> dict[str, Any]:
    return {
        "serial": o.serial,
        "codes": sorted(int(c) for c in o.codes),
        "device_bill": _device_bill(o.device_bill),
        "platform_bill": _platform_bill(o.platform_bill),
        "platform_session": _platform_session(o.platform_session),
        "notes": list(o.notes),
    }


def _notice(n: PlatformNotification) -> dict[str, Any]:
    return {
        "at": _iso(n.at),
        "kind": n.kind,
        "pile_no": n.pile_no,
        "gun": n.gun,
        "serial": n.serial,
        "text": n.text,
    }


def _expectation(e: ExpectationResult) -> dict[str, Any]:
    return {"key": e.key, "passed": e.passed, "expected": e.expected, "actual": e.actual}


def _session(result: RunResult, v: SessionVerdict) -> dict[str, Any]:
    expectations = [_expectation(e) for e in result.expectations if e.key == v.key]
    return {
        "key": v.key,
        "profile": profile_of(result, v),
        "codes": sorted(int(c) for c in v.codes),
        "label": combo_label(v.codes),
        "truth": _truth(v.truth),
        "billed_kwh": billed_kwh(v),
        "orders": [_order(o) for o in v.orders],
        "charged_yuan": v.charged_yuan,
        "fair_yuan": v.fair_yuan,
        "overcharge_yuan": v.overcharge_yuan,
        "false_notifications": [_notice(n) for n in v.false_notifications],
        "notes": list(v.notes),
        "evidence": list(v.evidence),
        "expectations": expectations,
        "passed": all(e["passed"] for e in expectations),
    }


def result_to_dict(result: RunResult) -> dict[str, Any]:
    """A run as a JSON-ready dict (only str/int/float/bool/None/list/dict inside)."""
    return {
        "scenario": result.scenario_name,
        "case": result.case,
        "backend": result.backend,
        "seed": result.seed,
        "epoch": _iso(result.epoch),
        "duration_s": result.duration_s,
        "passed": result.passed,
        "profiles": dict(result.profiles),
        "sessions": [_session(result, v) for v in result.verdicts],
        "expectations": [_expectation(e) for e in result.expectations],
        "offline": {pile: [list(w) for w in windows] for pile, windows in result.offline.items()},
        "stats": {
            "sessions": len(result.verdicts),
            "anomalous": len([v for v in result.verdicts if v.codes]),
            "frames": result.frames,
            "elided_heartbeats": result.elided_heartbeats,
            "wall_s": result.wall_s,
        },
    }


def results_document(results: Sequence[RunResult]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "passed": all(r.passed for r in results),
        "summary": [s.to_dict() for s in stats_by_profile(results)],
        "runs": [result_to_dict(r) for r in results],
    }


def write_results_json(results: Sequence[RunResult], path: str | Path) -> Path:
    """Write the results document of ``results`` to ``path`` (UTF-8, indented)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results_document(results), ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def load_results_json(path: str | Path) -> list[dict[str, Any]]:
    """The runs of a results document, as dicts (as :func:`result_to_dict` made them)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"{path}: not a simrig results document (version {VERSION})")
    runs = data.get("runs")
    if not isinstance(runs, list):
        raise ValueError(f"{path}: results document without a 'runs' list")
    return runs
