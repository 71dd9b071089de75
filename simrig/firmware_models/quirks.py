"""Firmware quirks: named, parametrised mechanisms from the field incidents.

A quirk is what a firmware version *does* (field-incidents.md); a fault (outage, reboot,
power cut, duplicated command) is what a scenario does *to* it — faults live in
``simrig.stimuli`` / ``simrig.link``, never here. Each quirk below:

* is enabled by a ``[quirks.NAME]`` table in a profile, its keys being :attr:`Quirk.params`
  (unknown keys are profile errors; missing keys take the defaults);
* is consulted at exactly ONE named hook of :class:`~.hooks.QuirkHooks`, named in its
  docstring (``Decision point:``; ``tests/test_composition_pile.py`` checks it from the
  source), and emits a ``quirk`` event when it fires;
* cites the incident it reproduces.

Probabilities are per session and drawn from the pile's injected rng at the decision
point, so the same seed gives the same quirk firings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import random

__all__ = ["QUIRKS", "ParamError", "Quirk", "QuirkSet", "validate_params"]


class ParamError(ValueError):
    """``field: reason`` of a bad quirk parameter (the profile loader adds the file)."""


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class Param:
    """One quirk parameter: kind ``prob`` | ``span`` | ``num`` | ``choices`` | ``bool``."""

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
        if self.kind == "prob":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParamError(f"{field}: must be a number")
            if not 0.0 <= value <= 1.0:
                raise ParamError(f"{field}: must be between 0 and 1")
            return float(value)
        if self.kind == "num":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParamError(f"{field}: must be a number")
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


def _uniform(rng: random.Random, span: tuple[float, float]) -> float:
    lo, hi = span
    return lo if hi == lo else rng.uniform(lo, hi)


# --------------------------------------------------------------------------- quirks


class Quirk:
    """Base: ``name``, ``case`` (incident id), ``params`` (schema), ``p`` (resolved values)."""

    name: ClassVar[str]
    case: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.p: dict[str, Any] = dict(values)

    def fires(self, rng: random.Random, key: str = "rate") -> bool:
        """One Bernoulli draw with the ``key`` probability (draws even at 0 or 1)."""
        return rng.random() < self.p[key]

    def event(self, case: str, **extra: Any) -> dict[str, Any]:
        return {"quirk": self.name, "case": case, "incident": self.case, **extra}


class RepeatedStopLosesBill(Quirk):
    """A second stop for the same session makes the pile discard its bill (zshy_case#23).

    2090104 lost 11 of 85 bills; every lost one had received a stop more than once (a
    partner platform re-sent 0x36 on timeout; one ended by auto-full and was then still
    sent a stop). Stops counted: every 0x36 for the session while it runs or while its
    bill is not yet uploaded, plus 1 for a pile-side stop.

    Decision point: hook ``repeated_stop`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "repeated_stop_loses_bill"
    case = "zshy_case#23"
    params: ClassVar[dict[str, Param]] = {
        "min_stops": Param("num", 2, "stops at which the bill is lost", minimum=2),
        "probability": Param("prob", 1.0, "chance the loss happens once triggered"),
    }

    def loses(self, stops: int, rng: random.Random) -> bool:
        return stops >= self.p["min_stops"] and self.fires(rng, "probability")


class StartFailureNoLogoutLateBill(Quirk):
    """On a start failure the pile sends no stop notice and uploads the bill hours later,
    with the bill's ``trade_time`` = the upload time (igo_case#29, Sinexcel 2090102).

    Normal firmware reports the failure at once (0x13 idle, 0x19) and sends the
    zero-energy bill within 30 s. With the quirk the change frame and 0x19 are
    suppressed and the bill is held for ``delay_s`` (field: 10+ hours; the platform
    cancelled the order after 4 minutes). The bill's start/end times stay the real start
    attempt and failure (field: "charging 60 s"); its ``trade_time`` (0x3B transaction
    time, the service end a YKC platform uses) is the upload time, which made the
    occupancy fee. The delay applies whether or not the gun is unplugged (it takes
    precedence over ``timings.bill_at_unplug``).

    Decision point: hook ``start_failure_logout`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "start_failure_no_logout_late_bill"
    case = "igo_case#29"
    params: ClassVar[dict[str, Param]] = {
        "delay_s": Param("span", [36000, 43200], "bill upload delay after the failure"),
    }

    def delay(self, rng: random.Random) -> float:
        return _uniform(rng, self.p["delay_s"])


class RebootPluggedLosesBill(Quirk):
    """A reboot while a gun is plugged loses that gun's bill and the pile reports the gun
    idle and unplugged afterwards (gdyc_case#25, Xundao AC: all piles of the operator).

    Normal firmware keeps bills in non-volatile storage across a reboot and reports the
    real plug state. With the quirk, the bill of a plugged gun (running session, or a
    bill not yet uploaded) is dropped, and the gun reads "not plugged" until it is
    physically unplugged.

    Decision point: hook ``reboot_plugged`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "reboot_plugged_loses_bill"
    case = "gdyc_case#25"
    params: ClassVar[dict[str, Param]] = {
        "probability": Param("prob", 1.0, "chance per plugged gun and reboot"),
    }


class PreparingBeforeReady(Quirk):
    """Slow authorisation: "preparing" before "ready" before charging (zpd_case#20, Juneng).

    Field status 1 → 2 → 3 after the scan, 1→2 in 20–55 s, 2→3 in 19–37 s. On the YKC
    wire: status 2 idle with plugged 0 and the order serial already assigned, then
    plugged 1, then status 3 — never status 1 (that means *fault* in YKC). The pile also
    hides the plug until an order is authorised (Juneng has no "plugged first" state).

    Decision point: hook ``start_sequence`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "preparing_before_ready"
    case = "zpd_case#20"
    params: ClassVar[dict[str, Param]] = {
        "auth_delay_s": Param("span", [20, 55], "preparing (plugged 0) → ready"),
        "start_delay_s": Param("span", [19, 37], "ready → handshake begins"),
    }

    def delays(self, rng: random.Random) -> tuple[float, float]:
        return _uniform(rng, self.p["auth_delay_s"]), _uniform(rng, self.p["start_delay_s"])


class BillTimeAnomaly(Quirk):
    """Impossible times in the bill (zpd_case#17, Juneng Ver1.0.0: 15 of 188 bills; also
    3 + 1 of ~11,700 on Sinexcel 11536/11523, igo_case#17, the 1 being an overlap).

    Kinds: ``end_before_start`` (end stamped ``skew_s`` before start), ``clock_jump``
    (the RTC jumped: start moved back by ``skew_s`` × 10), ``overlap`` (start stamped
    before the previous session's end on the same gun).

    Decision point: hook ``bill_times`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "bill_time_anomaly"
    case = "zpd_case#17"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.08, "per session"),
        "skew_s": Param("span", [300, 7200], "size of the error"),
        "kinds": Param(
            "choices",
            ["end_before_start", "clock_jump"],
            allowed=("end_before_start", "clock_jump", "overlap"),
        ),
    }


class RandomBillLoss(Quirk):
    """Bills lost with no other trigger (Sinexcel 2090xxx: zpd_case#7 2090104 162/1451,
    zpd_case#3 2090xxx 37/267; 11536/11523 21/~11,700 in igo_case#17).

    Decision point: hook ``bill_upload`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "random_bill_loss"
    case = "zpd_case#7"
    params: ClassVar[dict[str, Param]] = {"rate": Param("prob", 0.11, "per bill")}


class OccupancySpike(Quirk):
    """The pile reports the gun still plugged long after the real unplug, so the platform's
    service end (and occupancy fee) lands far too late (zpd_case#5_20191017: 73–433 yuan
    fees on sessions that charged < 60 s; fixed by a firmware upgrade).

    After a qualifying session the pile keeps sending 0x13 plugged 1 for ``delay_s`` after
    the real unplug. On a ``timings.bill_at_unplug`` profile (Sinexcel DC) it finalises
    the held bill only then, so the bill's ``trade_time`` (the YKC service end) is that
    late too; a bill already out (gun pulled during charging, §13.3 #5) is not affected.
    Without ``bill_at_unplug`` only the plug state is late (seen by platforms that take
    the service end from the unplug). With ``only_short_sessions`` it fires only after
    sessions that charged under ``short_s`` (the field pattern: interaction failed, user
    left the gun plugged).

    Decision point: hook ``plug_report`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "occupancy_spike"
    case = "zpd_case#5_20191017"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.5, "per qualifying session"),
        "delay_s": Param("span", [5400, 32400], "how long the stale plug state lasts"),
        "only_short_sessions": Param("bool", True),
        "short_s": Param("num", 60, "charging shorter than this qualifies", minimum=0),
    }


class DurationMismatch(Quirk):
    """Bill end time latched late: the bill's charging duration disagrees with the
    realtime data (code 9, Sinexcel 11536/11523: 9 × 23, 9+10 × 2, 9+11 × 3 of ~11,700,
    igo_case#17).

    Decision point: hook ``bill_times`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "duration_mismatch"
    case = "igo_case#17"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.002, "per session"),
        "offset_s": Param("span", [120, 1800], "how late the end time is latched"),
    }


class EnergyLost(Quirk):
    """The bill's meter end value is a stale reading from ``stale_s`` before the real
    end, so energy delivered at the end is missing from the bill (code 11; the stale end
    time also gives code 9: the 9+11 bills of 11536/11523, igo_case#17; zpd_case#7 one
    code 11 on 2090104).

    Decision point: hook ``energy_register`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "energy_lost"
    case = "igo_case#17"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.0003, "per session"),
        "stale_s": Param("span", [300, 1200], "age of the stale meter reading"),
    }


class InflatedRealtimeEnergy(Quirk):
    """The "current energy" of 0x13 realtime data is inflated (igo_case#28: 24.48 kWh in
    59 minutes on a car that barely moved). The bill keeps the metered value.

    Decision point: hook ``realtime_energy`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "inflated_realtime_energy"
    case = "igo_case#28"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.01, "per session"),
        "factor": Param("span", [2.0, 4.0], "multiplier of the reported energy"),
    }


class BillingEvasionSequence(Quirk):
    """A special scan-to-charge sequence charges with no bill (igo_case#1, 1xxxx line).

    Concrete trigger (our model of the hole): a card is scanned on a gun within
    ``window_s`` after a remote start 0x34 was accepted there, before current flows.
    The card handler overwrites the pending app order with a local, serial-less order:
    no 0x31 is sent, charging proceeds, 0x13 carries serial 0, and no 0x3B is ever
    produced (``bill_dropped`` why=``billing_evasion_sequence``).

    Decision point: hook ``card_scan`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "billing_evasion_sequence"
    case = "igo_case#1"
    params: ClassVar[dict[str, Param]] = {
        "window_s": Param("num", 30, "card scan window after the remote start", minimum=0),
    }


class SpuriousFaultBlip(Quirk):
    """One 0x13 with status fault (1) or offline (0) during charging, then charging again
    (igo_case#30, gdyc_case#15/#18: the platform took it for "charge finished").

    Decision point: hook ``status_report`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "spurious_fault_blip"
    case = "igo_case#30"
    params: ClassVar[dict[str, Param]] = {
        "rate": Param("prob", 0.01, "per session"),
        "after_s": Param("span", [60, 1800], "charging time before the blip"),
        "status": Param("choices", ["fault"], allowed=("fault", "offline")),
    }


class ChargeThroughOutage(Quirk):
    """Keeps charging while the link is down, keeps its realtime data and reports it
    late (zpd_case#12: offline 18:25–18:38, energy 7.31 → 21.32 kWh, balance −6.65).

    Normal firmware stops a session ``timings.offline_stop_s`` after losing the link
    (Sinexcel reason 45 "backend communication lost" → YKC 0x90); with the quirk it
    never does, and every realtime frame made offline is kept (up to ``max_frames``)
    and uploaded after re-login.

    Decision point: hook ``while_offline`` (:class:`~.hooks.QuirkHooks`).
    """

    name = "charge_through_outage"
    case = "zpd_case#12"
    params: ClassVar[dict[str, Param]] = {
        "max_frames": Param("num", 240, "realtime frames kept while offline", minimum=0),
    }


QUIRKS: dict[str, type[Quirk]] = {
    cls.name: cls
    for cls in (
        RepeatedStopLosesBill,
        StartFailureNoLogoutLateBill,
        RebootPluggedLosesBill,
        PreparingBeforeReady,
        BillTimeAnomaly,
        RandomBillLoss,
        OccupancySpike,
        DurationMismatch,
        EnergyLost,
        InflatedRealtimeEnergy,
        BillingEvasionSequence,
        SpuriousFaultBlip,
        ChargeThroughOutage,
    )
}
"""Every known quirk by name."""


def validate_params(name: str, table: Any) -> dict[str, Any]:
    """Resolved parameters of quirk ``name`` from its profile table (ParamError on error)."""
    cls = QUIRKS.get(name)
    if cls is None:
        raise ParamError(f"quirks.{name}: unknown quirk (known: {', '.join(sorted(QUIRKS))})")
    if not isinstance(table, dict):
        raise ParamError(f"quirks.{name}: must be a table")
    for key in table:
        if key not in cls.params:
            known = ", ".join(sorted(cls.params)) or "none"
            raise ParamError(f"quirks.{name}.{key}: unknown parameter (known: {known})")
    values: dict[str, Any] = {}
    for key, spec in cls.params.items():
        values[key] = (
            spec.check(f"quirks.{name}.{key}", table[key]) if key in table else spec.default_value()
        )
    return values


class QuirkSet:
    """The enabled quirks of a profile as typed attributes (None when disabled)."""

    def __init__(self, quirks: Mapping[str, Mapping[str, Any]]) -> None:
        def get(cls: type[Quirk]) -> Any:
            values = quirks.get(cls.name)
            return None if values is None else cls(values)

        self.repeated_stop_loses_bill: RepeatedStopLosesBill | None = get(RepeatedStopLosesBill)
        self.start_failure_no_logout_late_bill: StartFailureNoLogoutLateBill | None = get(
            StartFailureNoLogoutLateBill
        )
        self.reboot_plugged_loses_bill: RebootPluggedLosesBill | None = get(RebootPluggedLosesBill)
        self.preparing_before_ready: PreparingBeforeReady | None = get(PreparingBeforeReady)
        self.bill_time_anomaly: BillTimeAnomaly | None = get(BillTimeAnomaly)
        self.random_bill_loss: RandomBillLoss | None = get(RandomBillLoss)
        self.occupancy_spike: OccupancySpike | None = get(OccupancySpike)
        self.duration_mismatch: DurationMismatch | None = get(DurationMismatch)
        self.energy_lost: EnergyLost | None = get(EnergyLost)
        self.inflated_realtime_energy: InflatedRealtimeEnergy | None = get(InflatedRealtimeEnergy)
        self.billing_evasion_sequence: BillingEvasionSequence | None = get(BillingEvasionSequence)
        self.spurious_fault_blip: SpuriousFaultBlip | None = get(SpuriousFaultBlip)
        self.charge_through_outage: ChargeThroughOutage | None = get(ChargeThroughOutage)
