"""The results JSON: one JSON-ready dict per run, written and read back as plain dicts.

Document shape (``version`` 1)::

    {"version": 1, "partial": bool, "passed": bool, "backend_ok": bool,
     "summary": [ProfileStats.to_dict(), ...],
     "runs": [result_to_dict(run), ...]}

``partial`` is true for a run ended by Ctrl-C or SIGTERM (then ``passed`` is false).
Each run carries ``backend_status`` (ok | unreachable | incompatible | untested),
``stopped_early``, ``partial``, ``rig_late`` (where the rig itself ran late),
``diagnostics`` (one per pile: status, line, problems with evidence hex) and ``deviations``
(per pile: counts per kind and the first items, :mod:`simrig.report.backend`); each
session ``judged`` / ``not_judged``.

Times are ISO 8601 strings (the scenario's wall clock, naive as in the run).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

from simrig.domain.anomaly import combo_label
from simrig.oracle.judge import SessionVerdict
from simrig.oracle.views import DeviceBill, PlatformBill, PlatformSession, TruthRecord
from simrig.sim.results import INTERRUPTED, RunResult

from .backend import deviations_to_dict, diagnostics_to_dict
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


#: Fields of the view records left out of the document (``pile_no``/``gun`` repeat the
#: session key; the others are internal to the run).
_OMIT: dict[type, frozenset[str]] = {
    TruthRecord: frozenset({"service_stop"}),
    DeviceBill: frozenset({"pile_no", "gun"}),
    PlatformBill: frozenset({"pile_no", "gun", "balance_after_yuan"}),
    PlatformSession: frozenset({"pile_no", "gun"}),
}


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: a dataclass as a dict of its fields (minus
    :data:`_OMIT`), datetimes as ISO strings, int enums as ints, sets sorted, tuples as lists.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        omit = _OMIT.get(type(value), frozenset())
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in omit
        }
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _session(result: RunResult, v: SessionVerdict) -> dict[str, Any]:
    expectations = [_plain(e) for e in result.expectations if e.key == v.key]
    return {
        "key": v.key,
        "profile": profile_of(result, v),
        "codes": _plain(v.codes),
        "label": combo_label(v.codes),
        "truth": _plain(v.truth),
        "billed_kwh": billed_kwh(v),
        "orders": _plain(v.orders),
        "charged_yuan": v.charged_yuan,
        "fair_yuan": v.fair_yuan,
        "overcharge_yuan": v.overcharge_yuan,
        "false_notifications": _plain(v.false_notifications),
        "notes": list(v.notes),
        "judged": v.judged,
        "not_judged": v.not_judged,
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
        "epoch": _plain(result.epoch),
        "duration_s": result.duration_s,
        "passed": result.passed,
        "profiles": dict(result.profiles),
        "backend_status": result.backend_status,
        "stopped_early": result.stopped_early,
        "partial": result.stopped_early == INTERRUPTED,
        "diagnostics": diagnostics_to_dict(result),
        "rig_late": result.rig_late,
        "deviations": deviations_to_dict(result),
        "sessions": [_session(result, v) for v in result.verdicts],
        "expectations": _plain(result.expectations),
        "offline": {pile: [list(w) for w in windows] for pile, windows in result.offline.items()},
        "stats": {
            "sessions": len(result.verdicts),
            "anomalous": len([v for v in result.verdicts if v.codes]),
            "frames": result.frames,
            "elided_heartbeats": result.elided_heartbeats,
            "wall_s": result.wall_s,
        },
    }


def is_partial(results: Sequence[RunResult], interrupted: bool = False) -> bool:
    """A report of a run ended by Ctrl-C or SIGTERM: ``interrupted`` (runs that never
    started are missing) or a run cut short (``stopped_early`` = INTERRUPTED)."""
    return interrupted or any(r.stopped_early == INTERRUPTED for r in results)


def results_document(results: Sequence[RunResult], interrupted: bool = False) -> dict[str, Any]:
    """The whole document; ``"partial": true`` when the run was interrupted."""
    partial = is_partial(results, interrupted)
    return {
        "version": VERSION,
        "partial": partial,
        "passed": all(r.passed for r in results) and not partial,
        "backend_ok": all(r.backend_ok for r in results),
        "summary": [s.to_dict() for s in stats_by_profile(results)],
        "runs": [result_to_dict(r) for r in results],
    }


def write_results_json(
    results: Sequence[RunResult], path: str | Path, interrupted: bool = False
) -> Path:
    """Write the results document of ``results`` to ``path`` (UTF-8, indented)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results_document(results, interrupted), ensure_ascii=False, indent=1)
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
