"""The reference platform's rules: every one a named setting, default = the field platform.

QA models their own backend by changing these (``[rules]`` in ``platform.toml``).
Each setting cites the incident or spec item it comes from and ends with ``Acts:`` and
the part method(s) of :mod:`simrig.platform` where it acts (``module.Class.method``); a
test (tests/test_composition_platform.py) checks that these are the only readers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_type_hints

from simrig.platform.checks import CheckLimits

__all__ = ["FaultReading", "PlatformRules", "ServiceEndSource", "rules_from_mapping"]

FaultReading = Literal["end_of_charge", "wait_for_bill"]
ServiceEndSource = Literal["bill", "unplug"]
ChargeBasis = Literal["bill", "tariff"]

#: The anomaly-check thresholds' defaults: written once, in :class:`CheckLimits`.
_LIMITS = CheckLimits()


@dataclass(frozen=True, slots=True)
class PlatformRules:
    """Settings of the reference platform (issue 3 "Platform rules")."""

    # --- start ---------------------------------------------------------------------
    start_confirm_timeout_s: float = 240.0
    """Close an order with no successful start reply + charging 0x13 within this time.
    Spec S1 §13.3 #1: 90 s; the field platform cancelled after 4 minutes (igo_case#29).
    Acts: orders.Orders.await_start."""
    stop_on_start_timeout: bool = False
    """Also send 0x36 when auto-cancelling (the fix of igo_case#2/#7); field: no.
    Acts: orders.Orders._start_timeout."""
    min_start_balance: int = 10_000
    """Minimum balance (1e-4 yuan) to start (app 0x34 and card 0x32); zshy_case#17
    hard-coded 1 yuan. Acts: orders.Orders._short_of_balance."""
    unsettled_includes_unbilled: bool = False
    """Count a closed session still waiting for its bill as "unsettled" (blocks the card
    and the gun, 0x32 reasons 0x04 / 0x0A). True models igo_case#21's stuck record.
    Acts: sessions.SessionBook._unsettled."""
    # --- liveness --------------------------------------------------------------------
    heartbeat_interval_s: float = 10.0
    """Heartbeat period of the piles (protocol §3 item 2).
    Acts: liveness.Liveness.offline_after."""
    missed_heartbeats_offline: int = 3
    """The pile is offline after this many heartbeat periods without a frame.
    Acts: liveness.Liveness.offline_after."""
    idle_realtime_abnormal: int = 0
    """Idle 0x13 frames during an open order that make it abnormal (spec S1 §3 item 6 /
    §13.3 #4: two): a starting order is cancelled, a charging one read as ended, both
    with reason ``idle_abnormal``. 0 = off, the field platform: a charging order ends at
    its first idle 0x13 with serial, a starting one waits for the start timeout.
    Acts: charging.Charging._count_idle."""
    balance_push: bool = False
    """Send 0x42 (S1 §4.17) to the pile running an account's order when its balance
    changes (a top-up, a correction); the field platform did not. Acts:
    balances.BalancePush.push."""
    close_on_offline: bool = True
    """Close the connection of a pile that went offline (it must log in again).
    Acts: identity.Identity.set_offline."""
    time_sync_after_login: bool = True
    """Send 0x56 right after a successful login (JCPP, protocol §3 item 1).
    Acts: identity.Identity._on_login."""
    time_sync_interval_s: float = 86_400.0
    """Daily time sync (protocol §3 item 9); 0 = only after login.
    Acts: identity.Identity._schedule_time_sync."""
    # --- during charging ---------------------------------------------------------------
    balance_stop: bool = True
    """Stop a session when the realtime amount reaches the balance (zpd_case#12).
    Acts: charging.Charging._check_limits."""
    balance_stop_margin: int = 0
    """Stop when ``balance - realtime amount <= margin`` (1e-4 yuan). Field: 0; operators
    asked for 0.5-1 yuan (zpd_case#12). Acts: charging.Charging._check_limits."""
    fault_reading: FaultReading = "end_of_charge"
    """How a fault/offline status (or the pile going offline) during charging is read:
    ``end_of_charge`` = the field platform (false "charge finished", igo_case#30,
    gdyc_case#15); ``wait_for_bill`` = keep the session open until the bill or an idle
    status says so. Acts: charging.Charging._read_fault."""
    idle_zero_serial_ends_session: bool = True
    """An idle 0x13 without serial on a charging gun ends its session (gdyc_case#25: after a
    reboot the pile reported idle and the platform concluded the service had ended).
    Acts: charging.Charging._apply_realtime."""
    check_targets: bool = True
    """Check energy/amount/time targets on each 0x13 and send 0x36 when reached.
    Acts: charging.Charging._check_limits."""
    # --- billing -------------------------------------------------------------------------
    occupancy_service_end: ServiceEndSource = "bill"
    """Service end for the occupancy fee: ``bill`` = the bill's transaction time (field;
    igo_case#29: the pile's upload time), ``unplug`` = the platform's own unplug
    observation (0x13 plugged 1 → 0), falling back to the bill.
    Acts: settlement.Settlement._settle."""
    charge_basis: ChargeBasis = "bill"
    """Amount debited for energy: the pile's total (field) or the tariff's recomputation.
    Acts: settlement.Settlement._settle."""
    no_bill_grace_s: float = 900.0
    """A closed session with no bill after this long is flagged 1 (or 2 if offline).
    Acts: settlement.Settlement.await_bill (the timer), settlement.Settlement._bill_grace
    (the flag's detail text)."""
    # --- platform anomaly checks (simrig.platform.checks) ----------------------
    # These reach the checks as one CheckLimits (settlement.Settlement.__init__ calls
    # check_limits()); each acts in the checks module only.
    max_clock_skew_s: float = _LIMITS.max_clock_skew_s
    """Code 3: a bill time later than its receipt plus this skew. Acts: checks.check_bill."""
    max_session_energy_kwh: float = _LIMITS.max_session_energy_kwh
    """Code 4: a session total above this. Acts: checks.check_bill."""
    max_session_hours: float = _LIMITS.max_session_hours
    """Code 5: a session longer than this. Acts: checks.check_bill."""
    max_occupancy_minutes: float = _LIMITS.max_occupancy_minutes
    """Code 6: occupancy longer than this. Acts: checks.check_bill."""
    energy_tolerance_kwh: float = _LIMITS.energy_tolerance_kwh
    """Codes 4, 8, 11: absolute energy tolerance.
    Acts: checks.check_bill, checks.CheckLimits.energy_tolerance."""
    energy_tolerance_pct: float = _LIMITS.energy_tolerance_pct
    """Codes 8, 11: relative energy tolerance. Acts: checks.CheckLimits.energy_tolerance."""
    duration_tolerance_s: float = _LIMITS.duration_tolerance_s
    """Code 9: charging duration vs the platform's record. Acts: checks.check_bill."""
    occupancy_tolerance_s: float = _LIMITS.occupancy_tolerance_s
    """Code 10: occupancy vs the platform's unplug observation. Acts: checks.check_bill."""
    # --- bad input ----------------------------------------------------------------------
    malformed_frame_budget: int = 10
    """Bad frames (malformed, failed, another pile's) tolerated per connection; one more
    closes it (issue 3 "Bad input", issue 15).
    Acts: routing.Inbox._count_error."""
    emit_frame_events: bool = True
    """Emit frame_received / frame_sent events (turn off for load runs).
    Acts: events.EventSink.frame."""
    store_realtime_samples: bool = True
    """Store each 0x13 with an order as a realtime sample (read by the HTTP API only, no
    check: off in runs that keep verdicts only). Acts: charging.Charging._on_realtime."""

    def check_limits(self) -> CheckLimits:
        """The thresholds of the anomaly checks: the same-named settings of these rules
        (``max_power_kw`` is not a rule; it stays at its default, per pile it is replaced)."""
        return CheckLimits(**{name: getattr(self, name) for name in _LIMIT_RULES})


#: The :class:`CheckLimits` fields that are also rules (all but ``max_power_kw``).
_LIMIT_RULES = tuple(
    f.name for f in dataclasses.fields(CheckLimits) if f.name in PlatformRules.__dataclass_fields__
)


def rules_from_mapping(data: Mapping[str, Any], *, source: str = "rules") -> PlatformRules:
    """Build :class:`PlatformRules` from a TOML ``[rules]`` table; one-line error on bad keys."""
    hints = get_type_hints(PlatformRules)
    names = {f.name for f in dataclasses.fields(PlatformRules)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise ValueError(f"{source}: unknown rule {key!r} (known: {', '.join(sorted(names))})")
        hint = hints[key]
        text = str(hint)
        if hint is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{source}.{key}: expected true/false, got {value!r}")
        elif hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{source}.{key}: expected an integer, got {value!r}")
        elif hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{source}.{key}: expected a number, got {value!r}")
            value = float(value)
        elif "Literal" in text:
            allowed = hint.__args__
            if value not in allowed:
                raise ValueError(f"{source}.{key}: {value!r} is not one of {list(allowed)}")
        kwargs[key] = value
    return PlatformRules(**kwargs)
