"""The scenario file format (TOML), validated with pydantic; times resolved to seconds.

A scenario is one field incident (or one workload): the site (piles and their firmware
profiles), tariff, vehicles and users, a timeline of stimuli and faults, network faults,
platform rules, clock mode, seed, and expectations. ``at`` times accept ``"HH:MM[:SS]"``
(wall time on the epoch's day, ``"d2 HH:MM"`` for later days), ``"+90s"`` / ``"+5m"`` /
``"+2h"`` (after the previous timeline entry), or a number of seconds since the epoch.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simrig.link import Link, RandomSource
from simrig.link_frames import EventOutage, FrameFaults, FrameRule
from simrig.plant import VehicleSpec

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_CLOCK = re.compile(r"^\s*(?:d(\d+)\s+)?(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*$")

#: the longest run and the farthest timeline time: ten years (issue 15 item 8)
MAX_SECONDS = 10 * 366 * 86400.0
#: the wire's times are CP56Time2a: years 2000-2099 (protocol §1.5)
LAST_WALL_TIME = datetime(2099, 12, 31, 23, 59, 59)
#: money in a scenario (yuan): far beyond any account, within the wire's 4-byte fields
MAX_YUAN = 10_000_000.0


def _seconds_in_range(seconds: float, what: str) -> float:
    if not math.isfinite(seconds) or abs(seconds) > MAX_SECONDS:
        raise ValueError(f"{what} {seconds!r} is not a finite time within ten years")
    return seconds


def parse_duration(value: str | float | int) -> float:
    """``"90s"``, ``"5m"``, ``"2h"``, ``"1.5d"`` or a number of seconds → seconds."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration like 90s, 5m, 2h")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"{value!r} is a negative duration")
    return _seconds_in_range(seconds, "duration")


def parse_at(value: str | float | int, epoch: datetime, previous: float) -> float:
    """Resolve a timeline time to seconds since the epoch (see the module docstring)."""
    if isinstance(value, int | float):
        return _seconds_in_range(float(value), "time")
    text = value.strip()
    if text.startswith("+"):
        return _seconds_in_range(previous + parse_duration(text[1:]), "time")
    match = _CLOCK.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a time like 12:19:05, d2 08:00 or +5m")
    day = int(match.group(1) or 1)
    hour, minute = int(match.group(2)), int(match.group(3))
    second = float(match.group(4) or 0)
    if hour > 23 or minute > 59 or second >= 60 or day < 1:
        raise ValueError(f"{value!r} is not a valid time of day")
    if day > MAX_SECONDS / 86400:
        raise ValueError(f"{value!r}: day {day} is beyond ten years")
    midnight = epoch.replace(hour=0, minute=0, second=0, microsecond=0)
    at = midnight + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)
    return (at - epoch).total_seconds()


class _Model(BaseModel):
    """Every number finite (no inf, no nan: issue 15 item 8)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Meta(_Model):
    name: str
    description: str = ""
    case: str = ""
    seed: int = Field(default=1, ge=0, le=2**63 - 1)
    clock: Literal["virtual", "realtime"] = "virtual"
    epoch: datetime = datetime(2019, 10, 29, 0, 0, 0)
    duration: float = Field(default=86400.0, description="run length after the epoch")
    needs_backend_api: bool = Field(
        default=True, description="False if the verdict needs only frames (any YKC backend)"
    )

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v)

    @model_validator(mode="after")
    def _ends_on_the_wire(self) -> Meta:
        """The run must end where the wire's dates end (CP56Time2a: year 2099)."""
        if self.epoch + timedelta(seconds=self.duration) > LAST_WALL_TIME:
            raise ValueError("duration: the run would end after 2099, beyond the wire's dates")
        return self


class PileDef(_Model):
    pile_no: str = Field(pattern=r"^\d{14}$")
    profile: str
    guns: int | None = Field(default=None, ge=1, le=2)
    max_power_kw: float | None = Field(default=None, gt=0, le=2000)
    meter_start_kwh: float = Field(default=12345.6789, ge=0, le=10_000_000)
    meter_factor: float = Field(default=1.0, gt=0, le=10)
    clock_offset_s: float = Field(default=0.0, ge=-MAX_SECONDS, le=MAX_SECONDS)
    quirks: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="quirk parameters overriding (or adding to) the profile's"
    )
    disable_quirks: tuple[str, ...] = Field(
        default=(), description="quirks of the profile to turn off"
    )

    @field_validator("quirks")
    @classmethod
    def _quirks(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Each override names a known preset or primitive with known, valid parameters
        (``quirks.NAME.KEY: reason``; the loader adds file and line)."""
        from simrig.firmware_models.quirks import validate_params

        for name, table in v.items():
            validate_params(name, table)
        return v

    @field_validator("disable_quirks")
    @classmethod
    def _disable_quirks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        """Each name is a known preset or primitive (a typo must not leave it on)."""
        from simrig.firmware_models.quirks import check_name

        for name in v:
            try:
                check_name(name)
            except ValueError:
                raise ValueError(f"{name!r} is not a quirk name (docs/profile-format.md)") from None
        return v


class VehicleDef(_Model):
    name: str
    capacity_kwh: float = Field(default=60.0, ge=1, le=2000)
    initial_soc: float = Field(default=30.0, ge=0, le=100)
    target_soc: float = Field(default=100.0, ge=0, le=100)
    max_power_kw: float = Field(default=60.0, gt=0, le=2000)
    cv_knee_soc: float = Field(default=80.0, ge=0, le=100)
    handshake_s: float = Field(default=30.0, ge=0, le=3600)
    handshake_failure: str | None = None
    vin: str = Field(default="LSVAU2180N2183294", min_length=17, max_length=17)

    def spec(self) -> VehicleSpec:
        return VehicleSpec(
            capacity_kwh=self.capacity_kwh,
            initial_soc=self.initial_soc,
            target_soc=self.target_soc,
            max_power_kw=self.max_power_kw,
            cv_knee_soc=self.cv_knee_soc,
            handshake_s=self.handshake_s,
            handshake_failure=self.handshake_failure,
            vin=self.vin,
        )


class UserDef(_Model):
    name: str
    account: str = Field(default="", description="app account id (default: the name)")
    card: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{16}$")
    logical_card: str | None = Field(default=None, pattern=r"^\d{1,16}$")
    balance: float = Field(default=100.0, ge=-MAX_YUAN, le=MAX_YUAN)


Action = Literal[
    "plug",
    "unplug",
    "card",
    "app_start",
    "app_stop",
    "stop_button",
    "charging_fault",
    "bms_stop",
    "emergency_stop",
    "emergency_release",
    "power_cut",
    "power_restore",
    "reboot",
    "remote_reboot",
    "upgrade",
    "disable",
    "enable",
    "top_up",
    "set_balance",
]
#: steps that change a user's balance through the backend control (no pile needed)
BALANCE_STEPS = ("top_up", "set_balance")


class Step(_Model):
    at: float
    do: Action
    pile: str = Field(pattern=r"^\d{14}$")
    gun: int = Field(default=1, ge=1, le=2)
    vehicle: str | None = None
    user: str | None = None
    repeat: int = Field(default=1, ge=1, le=10, description="app_stop sent this many times")
    every: float = Field(default=10.0, ge=0, le=86400, description="seconds between repeats")
    target: str | None = Field(default=None, description="upgrade: the new profile name")
    energy_target_kwh: float | None = Field(
        default=None, gt=0, le=10_000, description="app_start: stop at"
    )
    amount_target_yuan: float | None = Field(
        default=None, gt=0, le=MAX_YUAN, description="app_start: stop at"
    )
    time_target_min: int | None = Field(
        default=None, ge=1, le=65_535, description="app_start: stop after"
    )
    yuan: float | None = Field(
        default=None,
        ge=-MAX_YUAN,
        le=MAX_YUAN,
        description="top_up: amount; set_balance: balance",
    )


def parse_frame_type(value: str | int) -> int:
    """A frame type as ``0x40``, ``64`` or its message name (``record_ack``) → its code."""
    from simrig.protocol.ykc import BY_NAME, MESSAGES

    if isinstance(value, str):
        text = value.strip()
        if text in BY_NAME:
            return BY_NAME[text].TYPE
        try:
            value = int(text, 0)
        except ValueError:
            raise ValueError(f"{value!r} is not a frame type like 0x40 or record_ack") from None
    if value not in MESSAGES:
        raise ValueError(f"no YKC frame type 0x{value:02X} in the codec registry")
    return value


class FrameRuleDef(_Model):
    """Drop, delay or duplicate the ``nth`` … ``nth + times - 1`` frames of a type written
    in a direction (:class:`~simrig.link_frames.FrameRule`): e.g. withhold the backend's
    0x40 three times, resend a 0x36 stop (zshy_case#23)."""

    direction: Literal["up", "down"]
    type: int = Field(description="frame type: 0x40, 64 or record_ack")
    action: Literal["drop", "delay", "duplicate"]
    nth: int = Field(default=1, ge=1, description="first occurrence acted on (1-based)")
    times: int = Field(default=1, ge=0, description="occurrences acted on; 0: every one")
    delay: float = Field(default=0.0, ge=0, description="delay: the hold; duplicate: the gap")

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, v: Any) -> int:
        return parse_frame_type(v)

    @field_validator("delay", mode="before")
    @classmethod
    def _delay(cls, v: Any) -> float:
        return parse_duration(v)

    def rule(self) -> FrameRule:
        return FrameRule(self.direction, self.type, self.action, self.nth, self.times, self.delay)


class EventOutageDef(_Model):
    """An outage ``after`` a frame of a type (:class:`~simrig.link_frames.EventOutage`):
    by default after the first one of each session (order serial) — "60 s after a
    session's first 0x13" (zpd_case#12) — or after its ``nth`` one."""

    on: int = Field(description="frame type that opens it: 0x13, 64 or realtime_data")
    direction: Literal["up", "down"] = "up"
    after: float = Field(default=0.0, ge=0, description="from the frame to the outage start")
    duration: float = Field(gt=0)
    nth: int = Field(default=0, ge=0, description="0: each session's first; n: the nth only")

    @field_validator("on", mode="before")
    @classmethod
    def _on(cls, v: Any) -> int:
        return parse_frame_type(v)

    @field_validator("after", "duration", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> float:
        return parse_duration(v)

    @model_validator(mode="after")
    def _session_needs_serial(self) -> EventOutageDef:
        from simrig.protocol.ykc import MESSAGES

        fields = getattr(MESSAGES[self.on], "__dataclass_fields__", {})
        if self.nth == 0 and "serial" not in fields:
            raise ValueError(
                f"0x{self.on:02X} carries no order serial: give nth (the Nth such frame)"
            )
        return self

    def outage(self) -> EventOutage:
        return EventOutage(self.direction, self.on, self.after, self.duration, self.nth)


class NetworkDef(_Model):
    pile: str | None = Field(default=None, description="a pile number, or every pile")
    outages: tuple[tuple[float, float], ...] = ()
    latency_ms: float = Field(default=20.0, ge=0, le=600_000)
    jitter_ms: float = Field(default=0.0, ge=0, le=600_000)
    loss: float = Field(default=0.0, ge=0, le=1)
    duplicate: float = Field(default=0.0, ge=0, le=1)
    corrupt: float = Field(default=0.0, ge=0, le=1)
    frame_rules: tuple[FrameRuleDef, ...] = ()
    event_outages: tuple[EventOutageDef, ...] = ()

    @property
    def clean(self) -> bool:
        """No random fault and no frame fault (a link the speed machinery may skip over)."""
        return not (
            self.loss or self.duplicate or self.corrupt or self.jitter_ms or self.frame_faults()
        )

    def link(self, rng_up: RandomSource | None, rng_down: RandomSource | None) -> Link:
        """This section's :class:`~simrig.link.Link` (byte faults, outages, frame faults)."""
        return Link.symmetric(
            rng_up,
            rng_down,
            latency_s=self.latency_ms / 1000,
            jitter_s=self.jitter_ms / 1000,
            loss=self.loss,
            duplicate=self.duplicate,
            corrupt=self.corrupt,
            outages=self.outages,
        ).with_frames(self.frame_faults())

    def frame_faults(self) -> FrameFaults:
        """The link's frame layer (empty, hence absent, without rules or event outages)."""
        return FrameFaults(
            [r.rule() for r in self.frame_rules], [e.outage() for e in self.event_outages]
        )


class Expectation(_Model):
    pile: str = Field(pattern=r"^\d{14}$")
    gun: int = Field(default=1, ge=1, le=2)
    session: int = Field(
        default=1, ge=1, le=1_000_000, description="1-based plug-in number on that gun"
    )
    codes: tuple[int, ...] = Field(default=(), description="anomaly codes expected (exactly)")
    false_notifications: tuple[str, ...] = ()
    billed: bool | None = Field(default=None, description="platform holds a bill for it")
    min_overcharge_yuan: float | None = Field(default=None, ge=-MAX_YUAN, le=MAX_YUAN)
    balance_below_yuan: float | None = Field(
        default=None,
        ge=-MAX_YUAN,
        le=MAX_YUAN,
        description="the account balance after the bill is below this",
    )
    refused_starts: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="start attempts the platform refused (0x32 failure)",
    )

    @field_validator("codes")
    @classmethod
    def _codes(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        bad = [c for c in v if not 1 <= c <= 11]
        if bad:
            raise ValueError(f"anomaly codes are 1–11, got {bad}")
        return tuple(sorted(set(v)))


class RateExpectation(_Model):
    """For workloads: the share of sessions carrying an anomaly code (or combination)."""

    codes: str = Field(
        description='a code ("1"), a combination as the field table writes it ("9+11"), '
        '"any" for any anomaly, or "clean"'
    )
    rate: float = Field(ge=0, le=1)
    tolerance: float = Field(default=0.02, ge=0, le=1)
    #: count a session when its codes *contain* ``codes`` instead of equalling them
    contains: bool = True


class Scenario(_Model):
    """A validated scenario with every time in seconds since ``meta.epoch``."""

    meta: Meta
    piles: tuple[PileDef, ...]
    vehicles: tuple[VehicleDef, ...] = ()
    users: tuple[UserDef, ...] = ()
    timeline: tuple[Step, ...] = ()
    network: tuple[NetworkDef, ...] = ()
    platform: dict[str, Any] = Field(default_factory=dict, description="PlatformRules overrides")
    tariff: dict[str, Any] | None = None
    expect: tuple[Expectation, ...] = ()
    expect_rate: tuple[RateExpectation, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _balance_pile(cls, data: Any) -> Any:
        """A balance step names no pile: it rides on the first one (touches none)."""
        if not isinstance(data, dict) or not data.get("piles") or not data.get("timeline"):
            return data
        first = data["piles"][0].get("pile_no") if isinstance(data["piles"][0], dict) else None
        if first is None:
            return data
        steps = [
            {**step, "pile": first}
            if isinstance(step, dict) and step.get("do") in BALANCE_STEPS and "pile" not in step
            else step
            for step in data["timeline"]
        ]
        return {**data, "timeline": steps}

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        piles = {p.pile_no for p in self.piles}
        if len(piles) != len(self.piles):
            raise ValueError("piles: a pile number is listed twice")
        vehicles = {v.name for v in self.vehicles}
        users = {u.name for u in self.users}
        for i, step in enumerate(self.timeline):
            where = f"timeline[{i}]"
            if step.pile not in piles:
                raise ValueError(f"{where}.pile: {step.pile} is not in [[piles]]")
            if step.do == "plug" and step.vehicle not in vehicles:
                raise ValueError(f"{where}.vehicle: plug needs a vehicle from [[vehicles]]")
            if step.do in ("card", "app_start", *BALANCE_STEPS) and step.user not in users:
                raise ValueError(f"{where}.user: {step.do} needs a user from [[users]]")
            if step.do in BALANCE_STEPS and step.yuan is None:
                raise ValueError(f"{where}.yuan: {step.do} needs an amount in yuan")
            if step.do == "top_up" and step.yuan is not None and step.yuan <= 0:
                raise ValueError(f"{where}.yuan: top_up needs a positive amount")
            if step.do not in BALANCE_STEPS and step.yuan is not None:
                raise ValueError(f"{where}.yuan: only top_up and set_balance take yuan")
            for target in ("energy_target_kwh", "amount_target_yuan", "time_target_min"):
                if step.do != "app_start" and getattr(step, target) is not None:
                    raise ValueError(f"{where}.{target}: only app_start takes a target")
            if step.do == "card" and not self.user(step.user or "").card:
                raise ValueError(f"{where}.user: user {step.user} has no card")
            if step.do == "upgrade" and not step.target:
                raise ValueError(f"{where}.target: upgrade needs a target profile")
        for i, net in enumerate(self.network):
            if net.pile is not None and net.pile not in piles:
                raise ValueError(f"network[{i}].pile: {net.pile} is not in [[piles]]")
        for i, exp in enumerate(self.expect):
            if exp.pile not in piles:
                raise ValueError(f"expect[{i}].pile: {exp.pile} is not in [[piles]]")
        return self

    def user(self, name: str) -> UserDef:
        return next(u for u in self.users if u.name == name)

    def vehicle(self, name: str) -> VehicleDef:
        return next(v for v in self.vehicles if v.name == name)
