"""Firmware quirks as composable primitives, and the field's quirks as named presets.

A quirk is what a firmware version *does* (field-incidents.md); a fault (outage, reboot,
power cut, duplicated command) is what a scenario does *to* it — faults live in
``simrig.stimuli`` / ``simrig.link``, never here.

A **primitive** is one orthogonal, parameterised behaviour:

* enabled by a ``[quirks.NAME]`` table in a profile (or a scenario's pile overrides),
  its keys being :attr:`Quirk.params` (unknown keys are errors; missing keys default);
* consulted at exactly ONE named hook of :class:`~.hooks.QuirkHooks`, named in its
  docstring (``Decision point:``; ``tests/test_composition_pile.py`` checks it from the
  source), and emits a ``quirk`` event when it fires;
* cites the incidents that motivated it.

A **preset** is a field quirk by its old name (``random_bill_loss``, …): its own
parameters, expanded into primitives (:data:`PRESETS`). A fired primitive reports the
preset's name and case, so a preset behaves — frames, events, verdicts — exactly as the
quirk of that name always did (the golden digests pin it). Profiles may mix presets and
primitives; two entries setting one primitive are an error. ``docs/profile-format.md``
lists every primitive and preset.

Probabilities are drawn from the pile's injected rng at the decision point, so the same
seed gives the same firings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import random

__all__ = [
    "PRESETS",
    "PRIMITIVES",
    "QUIRKS",
    "Enabled",
    "ParamError",
    "Preset",
    "Quirk",
    "QuirkSet",
    "check_name",
    "expand",
    "uniform_span",
    "validate_params",
]


class ParamError(ValueError):
    """``field: reason`` of a bad quirk parameter (the profile loader adds the file)."""


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: kind ``prob`` | ``span`` | ``num`` | ``choices`` | ``one`` | ``bool``."""

    kind: str
    default: Any
    doc: str = ""
    allowed: tuple[str, ...] = ()
    minimum: float = 0.0

    def check(self, field: str, value: Any) -> Any:
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ParamError(f"{field}: must be true or false")
            return value
        if self.kind in ("prob", "num"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParamError(f"{field}: must be a number")
            if self.kind == "prob":
                if not 0.0 <= value <= 1.0:
                    raise ParamError(f"{field}: must be between 0 and 1")
                return float(value)
            if value < self.minimum:
                raise ParamError(f"{field}: must be >= {self.minimum:g}")
            return value
        if self.kind == "span":
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            )
            if not ok:
                raise ParamError(f"{field}: must be a [low, high] pair of numbers")
            lo, hi = float(value[0]), float(value[1])
            if lo < self.minimum or hi < lo:
                raise ParamError(f"{field}: must satisfy {self.minimum:g} <= low <= high")
            return (lo, hi)
        if self.kind == "one":
            if value not in self.allowed:
                raise ParamError(f"{field}: {value!r} is not one of {', '.join(self.allowed)}")
            return value
        if self.kind == "choices":
            if not isinstance(value, list) or not value:
                raise ParamError(f"{field}: must be a non-empty list")
            for item in value:
                if item not in self.allowed:
                    raise ParamError(f"{field}: {item!r} is not one of {', '.join(self.allowed)}")
            return tuple(value)
        raise AssertionError(self.kind)  # pragma: no cover

    def default_value(self) -> Any:
        if self.kind == "span":
            return tuple(float(v) for v in self.default)
        if self.kind == "choices":
            return tuple(self.default)
        return self.default


def uniform_span(rng: random.Random, span: tuple[float, float]) -> float:
    lo, hi = span
    return lo if hi == lo else rng.uniform(lo, hi)


# --------------------------------------------------------------------------- primitives


class Quirk:
    """A primitive: ``name``, ``case`` (the incidents it cites), ``params`` (schema),
    ``p`` (resolved values); ``tag`` and ``incident`` are what its events and dropped
    bills report (the preset's name and case when a preset enabled it)."""

    name: ClassVar[str]
    case: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}

    def __init__(self, values: Mapping[str, Any], tag: str = "", incident: str = "") -> None:
        self.p: dict[str, Any] = dict(values)
        self.tag = tag or self.name
        self.incident = incident or self.case.split(",")[0].strip()

    def fires(self, rng: random.Random, key: str = "rate") -> bool:
        """One Bernoulli draw with the ``key`` probability (draws even at 0 or 1)."""
        return rng.random() < self.p[key]

    def event(self, case: str, **extra: Any) -> dict[str, Any]:
        return {"quirk": self.tag, "case": case, "incident": self.incident, **extra}


class PreparingPhase(Quirk):
    """Slow authorisation: "preparing" before "ready" before charging (zpd_case#20, Juneng).

    Field status 1 → 2 → 3 after the scan, 1→2 in 20–55 s, 2→3 in 19–37 s. On the YKC
    wire: status 2 idle with plugged 0 and the order serial already assigned, then
    plugged 1, then status 3 — never status 1 (that means *fault* in YKC). The pile also
    hides the plug until an order is authorised.

    Decision point: hook ``start_sequence`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "preparing_phase"
    case = "zpd_case#20"
    params: ClassVar[dict[str, Param]] = {
        "auth_delay_s": Param("span", [20, 55], "preparing (plugged 0) → ready"),
        "start_delay_s": Param("span", [19, 37], "ready → handshake begins"),
    }

    def delays(self, rng: random.Random) -> tuple[float, float]:
        return uniform_span(rng, self.p["auth_delay_s"]), uniform_span(rng, self.p["start_delay_s"])


class CardDuringRemoteStart(Quirk):
    """A card scanned within ``window_s`` of an accepted remote start 0x34, before current
    flows, overwrites the app order with a local serial-less one: no 0x31, 0x13 with
    serial 0, no 0x3B ever (igo_case#1, the 1xxxx billing-evasion hole).

    Decision point: hook ``card_scan`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "card_during_remote_start"
    case = "igo_case#1"
    params: ClassVar[dict[str, Param]] = {
        "window_s": Param("num", 30, "card scan window after the remote start", minimum=0),
    }


class StartFailureSilence(Quirk):
    """On a start failure the pile sends no logout / stop notice (no change frame, no
    0x19), and may hold the zero-energy bill ``bill_delay_s`` (igo_case#29, 2090102:
    bill 10+ hours late; the platform cancelled the order after 4 minutes). A zero span
    ``[0, 0]`` leaves the bill to the profile and ``bill_timing``; a non-zero delay takes
    precedence over both (and over ``timings.bill_at_unplug``).

    Decision point: hook ``start_failure_logout`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "start_failure_silence"
    case = "igo_case#29"
    params: ClassVar[dict[str, Param]] = {
        "probability": Param("prob", 1.0, "chance per start failure (drawn only if < 1)"),
        "bill_delay_s": Param("span", [0, 0], "hold the bill this long ([0, 0]: do not)"),
    }


class RepeatedStopDrop(Quirk):
    """A session stopped ``min_stops`` times loses its bill (zshy_case#23, 2090104: 11 of
    85 bills lost, every one had received more than one stop). Stops counted: every 0x36
    while the session runs or its bill is not yet uploaded, plus 1 for a pile-side stop.

    Decision point: hook ``repeated_stop`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "repeated_stop_drop"
    case = "zshy_case#23"
    params: ClassVar[dict[str, Param]] = {
        "min_stops": Param("num", 2, "stops at which the bill is lost", minimum=2),
        "probability": Param("prob", 1.0, "chance the loss happens once triggered"),
    }

    def loses(self, stops: int, rng: random.Random) -> bool:
        return stops >= self.p["min_stops"] and self.fires(rng, "probability")


class BillLoss(Quirk):
    """A bill due for upload is lost with no other trigger (zpd_case#7 2090104 162/1451,
    zpd_case#3 2090xxx 37/267, igo_case#17 11536/11523 21/~11,700).

    Decision point: hook ``bill_upload`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "bill_loss"
    case = "zpd_case#7, zpd_case#3, igo_case#17"
    params: ClassVar[dict[str, Param]] = {"rate": Param("prob", 0.11, "per bill")}


#: the modes of ``bill_timing``, in the order of their probabilities
BILL_TIMINGS = ("at_stop", "at_unplug", "after_delay", "next_login", "never")


class BillTiming(Quirk):
    """When a finished session's bill is uploaded, per session: ``at_stop`` (within
    ``timings.bill_delay_s``), ``at_unplug`` (held while the gun is reported plugged,
    zpd_case#4), ``after_delay`` (``delay_s`` later, igo_case#29's late bill),
    ``next_login`` (kept until the link logs in again, gdyc_case#15), ``never`` (lost,
    zshy_case#21). Probabilities sum to at most 1; the rest keeps the profile's timing.
    ``sessions`` limits it to charged sessions and/or start failures.

    Decision point: hook ``bill_schedule`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "bill_timing"
    case = "zpd_case#4, igo_case#29, gdyc_case#15, zshy_case#21"
    params: ClassVar[dict[str, Param]] = {
        "at_stop": Param("prob", 0.0, "probability per session"),
        "at_unplug": Param("prob", 0.0, "probability per session"),
        "after_delay": Param("prob", 0.0, "probability per session"),
        "next_login": Param("prob", 0.0, "probability per session"),
        "never": Param("prob", 0.0, "probability per session"),
        "delay_s": Param("span", [36000, 43200], "the after_delay hold"),
        "sessions": Param(
            "choices",
            ["charged", "start_failure"],
            "which sessions",
            allowed=("charged", "start_failure"),
        ),
    }

    def choose(self, rng: random.Random) -> str | None:
        """The mode for one session, or None (profile timing); draws only when needed."""
        weights = [self.p[m] for m in BILL_TIMINGS]
        total = sum(weights)
        certain = [m for m, w in zip(BILL_TIMINGS, weights, strict=True) if w >= 1.0]
        if certain:
            return certain[0]
        if total <= 0:
            return None
        u = rng.random()
        for mode, weight in zip(BILL_TIMINGS, weights, strict=True):
            if u < weight:
                return mode
            u -= weight
        return None


class StaleMeterEnd(Quirk):
    """The bill's meter end is a stale reading ``stale_s`` before the real end: energy
    delivered at the end is missing (code 11; the stale end time also gives 9: the 9+11
    bills of igo_case#17; zpd_case#7 one code 11 on 2090104).

    Decision point: hook ``energy_register`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "stale_meter_end"
    case = "igo_case#17, zpd_case#7"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.0003, "per session"),
        "stale_s": Param("span", [300, 1200], "age of the stale meter reading"),
    }


class LateEndStamp(Quirk):
    """The bill's end time is latched ``offset_s`` late: its charging duration disagrees
    with the realtime data (code 9, igo_case#17 11536/11523; zpd_case#7 one on 2090104).

    Decision point: hook ``bill_times`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "late_end_stamp"
    case = "igo_case#17, zpd_case#7"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.002, "per session"),
        "offset_s": Param("span", [120, 1800], "how late the end time is latched"),
    }


class LateRecordClose(Quirk):
    """The session record is closed, and its bill uploaded, ``delay_s`` after the charge
    end — usually after the user has left, so the bill's trade time (stamped at upload)
    disagrees with the platform's own unplug observation (code 10); in ``relatch`` of
    them the end of charge is latched at that closing too, so the charging duration
    disagrees as well (9+10). igo_case#17, 11536/11523: 10 × 4, 9+10 × 2 of ~11,700.
    Only a bill that reaches the platform after the unplug can show 10 to it: the old
    line's ordinary bill goes out at the unplug, before the unplugged 0x13.

    Decision point: hook ``bill_schedule`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "late_record_close"
    case = "igo_case#17"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.0006, "per charged session"),
        "delay_s": Param("span", [900.0, 3600.0], "charge end → record closed and uploaded"),
        "relatch": Param("prob", 0.33, "chance the end of charge is latched at closing"),
    }


class ImpossibleBillTimes(Quirk):
    """Impossible times in the bill (zpd_case#17, Juneng: 15 of 188; igo_case#17: 3 + 1
    overlap of ~11,700): ``end_before_start`` (end ``skew_s`` before start),
    ``clock_jump`` (start moved back ``skew_s`` × 10), ``overlap`` (start before the
    previous session's end on the gun), ``clock_step`` (every time ``skew_s`` ahead: the
    RTC stepped forward before the session and was set right after it, so the bill's
    times lie after its receipt while its durations agree: igo_case#17's 3 × 3 alone).

    Decision point: hook ``bill_times`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "impossible_bill_times"
    case = "zpd_case#17, igo_case#17"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.08, "per session"),
        "skew_s": Param("span", [300, 7200], "size of the error"),
        "kinds": Param(
            "choices",
            ["end_before_start", "clock_jump"],
            allowed=("end_before_start", "clock_jump", "overlap", "clock_step"),
        ),
    }


class BillStamps(Quirk):
    """What stamps the bill's times: its end time is the true ``charge_end`` or the
    ``upload`` time; its ``trade_time`` (the service end a YKC platform reads, zpd_case#4)
    the ``upload`` time (the firmware's usual, igo_case#29's 10-hour service end) or the
    ``charge_end``; and the bill clock may drift ``drift_s_per_day`` (capped at
    ``max_drift_s``) since the epoch (zpd_case#17 time anomalies, igo_case#17 code 9).

    Decision point: hook ``bill_times`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "bill_stamps"
    case = "zpd_case#4, igo_case#29, zpd_case#17"
    params: ClassVar[dict[str, Param]] = {
        "end": Param("one", "charge_end", "bill end time", allowed=("charge_end", "upload")),
        "trade": Param("one", "upload", "trade_time", allowed=("upload", "charge_end")),
        "drift_s_per_day": Param("num", 0.0, "clock drift (negative: slow)", minimum=-86400),
        "max_drift_s": Param("num", 86400.0, "cap of the drift", minimum=0),
    }


class RealtimeEnergyFactor(Quirk):
    """The "current energy" of 0x13 is multiplied by ``factor`` for a session (igo_case#28:
    24.48 kWh in 59 minutes on a car that barely moved); the bill keeps the metered value.

    Decision point: hook ``realtime_energy`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "realtime_energy_factor"
    case = "igo_case#28"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.01, "per session"),
        "factor": Param("span", [2.0, 4.0], "multiplier of the reported energy"),
    }


class StatusBlip(Quirk):
    """One 0x13 with status fault (1) or offline (0) during charging, then charging again
    (igo_case#30, gdyc_case#15/#18: the platform took it for "charge finished").

    Decision point: hook ``status_report`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "status_blip"
    case = "igo_case#30, gdyc_case#15"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.01, "per session"),
        "after_s": Param("span", [60, 1800], "charging time before the blip"),
        "status": Param("choices", ["fault"], allowed=("fault", "offline")),
    }


class StalePlugReport(Quirk):
    """The pile reports the gun plugged ``delay_s`` past the real unplug
    (zpd_case#5_20191017: 73–433 yuan fees on sessions that charged < 60 s). A bill held
    for the unplug (``timings.bill_at_unplug``) waits as long. ``only_short_sessions``:
    only after sessions that charged under ``short_s``.

    Decision point: hook ``plug_report`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "stale_plug_report"
    case = "zpd_case#5_20191017"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.5, "per qualifying session"),
        "delay_s": Param("span", [5400, 32400], "how long the stale plug state lasts"),
        "only_short_sessions": Param("bool", True),
        "short_s": Param("num", 60, "charging shorter than this qualifies", minimum=0),
    }


class RebootGunPlugged(Quirk):
    """A reboot while a gun is plugged: the gun's unacknowledged bills are kept or lost
    (``bill``), and the plug is reported for real or as ``idle`` (unplugged) until the
    gun is physically returned (gdyc_case#25, Xundao AC: lost bill, "idle" after reboot).

    Decision point: hook ``reboot_plugged`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "reboot_gun_plugged"
    case = "gdyc_case#25"
    params: ClassVar[dict[str, Param]] = {
        "probability": Param("prob", 1.0, "chance per plugged gun with a bill and reboot"),
        "bill": Param("one", "lose", "the gun's bills", allowed=("keep", "lose")),
        "report": Param("one", "idle", "plug state after reboot", allowed=("real", "idle")),
    }


class OfflineBehaviour(Quirk):
    """While the link is down: keep charging (``keep_charging``, zpd_case#12: 7.31 → 21.32
    kWh offline) or stop after ``stop_after_s`` (< 0: ``timings.offline_stop_s``); keep
    up to ``max_frames`` realtime frames for after login; ``bill = "drop"`` loses bills
    that fall due while offline (gdyc_case#15: the app cannot reach the pile offline).

    Decision point: hook ``while_offline`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "offline_behaviour"
    case = "zpd_case#12, gdyc_case#15"
    params: ClassVar[dict[str, Param]] = {
        "keep_charging": Param("bool", True),
        "stop_after_s": Param("num", -1, "stop a session this long offline", minimum=-1),
        "keep_realtime": Param("bool", True),
        "max_frames": Param("num", 240, "realtime frames kept while offline", minimum=0),
        "bill": Param("one", "keep", "bills due while offline", allowed=("keep", "drop")),
    }


PRIMITIVES: dict[str, type[Quirk]] = {
    cls.name: cls
    for cls in (
        PreparingPhase,
        CardDuringRemoteStart,
        StartFailureSilence,
        RepeatedStopDrop,
        BillLoss,
        BillTiming,
        StaleMeterEnd,
        LateEndStamp,
        LateRecordClose,
        ImpossibleBillTimes,
        BillStamps,
        RealtimeEnergyFactor,
        StatusBlip,
        StalePlugReport,
        RebootGunPlugged,
        OfflineBehaviour,
    )
}
"""Every primitive by name."""


# --------------------------------------------------------------------------- presets


@dataclass(frozen=True, slots=True)
class Preset:
    """A field quirk by name: its parameters and the primitives they expand into."""

    name: str
    case: str
    doc: str
    params: dict[str, Param]
    expand: Callable[[Mapping[str, Any]], dict[str, dict[str, Any]]]


def _same(primitive: str) -> Callable[[Mapping[str, Any]], dict[str, dict[str, Any]]]:
    return lambda p: {primitive: dict(p)}


def _params(primitive: str, *keys: str) -> dict[str, Param]:
    return {k: PRIMITIVES[primitive].params[k] for k in keys}


_PRESET_LIST = (
    Preset(
        "repeated_stop_loses_bill",
        "zshy_case#23",
        "A second stop loses the bill (2090104).",
        _params("repeated_stop_drop", "min_stops", "probability"),
        _same("repeated_stop_drop"),
    ),
    Preset(
        "start_failure_no_logout_late_bill",
        "igo_case#29",
        "No logout on a start failure, bill 10-12 hours late stamped at upload (2090102).",
        {"delay_s": Param("span", [36000, 43200], "bill upload delay after the failure")},
        lambda p: {"start_failure_silence": {"probability": 1.0, "bill_delay_s": p["delay_s"]}},
    ),
    Preset(
        "reboot_plugged_loses_bill",
        "gdyc_case#25",
        "A reboot with the gun plugged loses its bill and reports it idle (Xundao AC).",
        _params("reboot_gun_plugged", "probability"),
        lambda p: {"reboot_gun_plugged": {**p, "bill": "lose", "report": "idle"}},
    ),
    Preset(
        "preparing_before_ready",
        "zpd_case#20",
        "Preparing before ready before charging (Juneng).",
        dict(PreparingPhase.params),
        _same("preparing_phase"),
    ),
    Preset(
        "bill_time_anomaly",
        "zpd_case#17",
        "Impossible bill times (Juneng: 15 of 188).",
        dict(ImpossibleBillTimes.params),
        _same("impossible_bill_times"),
    ),
    Preset(
        "random_bill_loss",
        "zpd_case#7",
        "Bills lost with no other trigger (2090xxx).",
        dict(BillLoss.params),
        _same("bill_loss"),
    ),
    Preset(
        "occupancy_spike",
        "zpd_case#5_20191017",
        "Gun reported plugged long after the unplug: late service end, sky-high fee.",
        dict(StalePlugReport.params),
        _same("stale_plug_report"),
    ),
    Preset(
        "duration_mismatch",
        "igo_case#17",
        "Bill end time latched late: code 9 (old line).",
        dict(LateEndStamp.params),
        _same("late_end_stamp"),
    ),
    Preset(
        "late_bill_close",
        "igo_case#17",
        "Record closed and bill uploaded after the unplug: code 10, 9+10 (old line).",
        dict(LateRecordClose.params),
        _same("late_record_close"),
    ),
    Preset(
        "energy_lost",
        "igo_case#17",
        "Stale meter end in the bill: codes 9+11 (old line).",
        dict(StaleMeterEnd.params),
        _same("stale_meter_end"),
    ),
    Preset(
        "inflated_realtime_energy",
        "igo_case#28",
        "Inflated 0x13 energy.",
        dict(RealtimeEnergyFactor.params),
        _same("realtime_energy_factor"),
    ),
    Preset(
        "billing_evasion_sequence",
        "igo_case#1",
        "Card scan during a remote start charges with no bill (1xxxx).",
        dict(CardDuringRemoteStart.params),
        _same("card_during_remote_start"),
    ),
    Preset(
        "spurious_fault_blip",
        "igo_case#30",
        "One fault/offline 0x13 during charging.",
        dict(StatusBlip.params),
        _same("status_blip"),
    ),
    Preset(
        "charge_through_outage",
        "zpd_case#12",
        "Keeps charging offline and uploads its realtime data late.",
        _params("offline_behaviour", "max_frames"),
        lambda p: {
            "offline_behaviour": {
                "keep_charging": True,
                "stop_after_s": -1,
                "keep_realtime": True,
                "max_frames": p["max_frames"],
                "bill": "keep",
            }
        },
    ),
)
PRESETS: dict[str, Preset] = {p.name: p for p in _PRESET_LIST}
"""Every preset (the field quirks by their names) by name."""

QUIRKS: dict[str, type[Quirk] | Preset] = {**PRIMITIVES, **PRESETS}
"""Every name a profile's ``[quirks.NAME]`` accepts: primitives and presets."""


def _schema(name: str) -> dict[str, Param]:
    kind = QUIRKS.get(name)
    if kind is None:
        raise ParamError(
            f"quirks.{name}: unknown quirk (presets: {', '.join(sorted(PRESETS))}; "
            f"primitives: {', '.join(sorted(PRIMITIVES))})"
        )
    return kind.params


def validate_params(name: str, table: Any) -> dict[str, Any]:
    """Resolved parameters of quirk ``name`` (a preset or a primitive) from its table."""
    schema = _schema(name)
    if not isinstance(table, dict):
        raise ParamError(f"quirks.{name}: must be a table")
    for key in table:
        if key not in schema:
            known = ", ".join(sorted(schema)) or "none"
            raise ParamError(f"quirks.{name}.{key}: unknown parameter (known: {known})")
    values: dict[str, Any] = {}
    for key, spec in schema.items():
        values[key] = (
            spec.check(f"quirks.{name}.{key}", table[key]) if key in table else spec.default_value()
        )
    if name == BillTiming.name:
        total = sum(values[m] for m in BILL_TIMINGS)
        if total > 1.0 + 1e-9:
            raise ParamError(f"quirks.{name}: the mode probabilities sum to {total:g} > 1")
    return values


def check_name(name: str) -> None:
    """ParamError unless ``name`` is a preset or a primitive."""
    _schema(name)


@dataclass(frozen=True, slots=True)
class Enabled:
    """One enabled primitive: its parameters and what its firings report."""

    params: dict[str, Any]
    tag: str
    incident: str
    by: str = field(default="")  # the profile entry that enabled it


def expand(quirks: Mapping[str, Mapping[str, Any]]) -> dict[str, Enabled]:
    """A profile's quirk entries (presets and primitives, parameters resolved) as the
    primitives they enable; ParamError if two entries set one primitive."""
    out: dict[str, Enabled] = {}
    for name, values in quirks.items():
        preset = PRESETS.get(name)
        if preset is None:
            parts = {name: (dict(values), name, PRIMITIVES[name].case.split(",")[0].strip())}
        else:
            parts = {k: (v, name, preset.case) for k, v in preset.expand(values).items()}
        for primitive, (params, tag, incident) in parts.items():
            if primitive in out:
                raise ParamError(
                    f"quirks.{name}: sets primitive {primitive}, already set by "
                    f"quirks.{out[primitive].by}"
                )
            out[primitive] = Enabled(params, tag, incident, by=name)
    return out


class QuirkSet:
    """The enabled primitives of a profile as typed attributes (None when disabled)."""

    def __init__(self, enabled: Mapping[str, Enabled]) -> None:
        def get(cls: type[Quirk]) -> Any:
            e = enabled.get(cls.name)
            return None if e is None else cls(e.params, e.tag, e.incident)

        self.preparing_phase: PreparingPhase | None = get(PreparingPhase)
        self.card_during_remote_start: CardDuringRemoteStart | None = get(CardDuringRemoteStart)
        self.start_failure_silence: StartFailureSilence | None = get(StartFailureSilence)
        self.repeated_stop_drop: RepeatedStopDrop | None = get(RepeatedStopDrop)
        self.bill_loss: BillLoss | None = get(BillLoss)
        self.bill_timing: BillTiming | None = get(BillTiming)
        self.stale_meter_end: StaleMeterEnd | None = get(StaleMeterEnd)
        self.late_end_stamp: LateEndStamp | None = get(LateEndStamp)
        self.late_record_close: LateRecordClose | None = get(LateRecordClose)
        self.impossible_bill_times: ImpossibleBillTimes | None = get(ImpossibleBillTimes)
        self.bill_stamps: BillStamps | None = get(BillStamps)
        self.realtime_energy_factor: RealtimeEnergyFactor | None = get(RealtimeEnergyFactor)
        self.status_blip: StatusBlip | None = get(StatusBlip)
        self.stale_plug_report: StalePlugReport | None = get(StalePlugReport)
        self.reboot_gun_plugged: RebootGunPlugged | None = get(RebootGunPlugged)
        self.offline_behaviour: OfflineBehaviour | None = get(OfflineBehaviour)
