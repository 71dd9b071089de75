"""Specifications and vocabulary of the plant: vehicles, piles, stop causes (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

TAPER_FLOOR = 0.1
"""Fraction of the vehicle's max power still accepted at 100 % SOC."""


class PlantError(ValueError):
    """A stimulus that is physically impossible in the current state (a scenario bug)."""


class StopCause(StrEnum):
    """Why current (or a contactor interval) ended, as the truth log records it."""

    BMS_FULL = "bms_full"  # BMS reached target_soc
    CONTACTOR_OPEN = "contactor_open"  # firmware opened the contactor
    HANDSHAKE = "handshake"  # firmware began a new handshake, ending the BMS session
    UNPLUG = "unplug"
    EMERGENCY_STOP = "emergency_stop"
    POWER_CUT = "power_cut"
    BMS_STOP = "bms_stop"  # the vehicle's BMS stopped actively before its target


class HandshakeStatus(StrEnum):
    """BMS handshake state of a gun. Guns report NONE after an abort; ABORTED is log-only."""

    NONE = "none"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    """A vehicle and its BMS as seen from the gun.

    ``handshake_s`` is the DC BMS handshake duration (field: 20–55 s, zpd_case#20);
    ``handshake_failure`` names why it fails (e.g. "bhm_timeout", "brm_timeout",
    "bcp_timeout", "insulation"), reported verbatim; None = success.
    ``ac_max_power_kw`` is the on-board charger limit on AC piles (None = max_power_kw).
    ``battery_type`` is the GB/T 27930 code (3 = LFP, 6 = NMC).
    """

    capacity_kwh: float = 60.0
    initial_soc: float = 30.0
    target_soc: float = 100.0
    max_power_kw: float = 60.0
    cv_knee_soc: float = 80.0
    nominal_voltage_v: float = 400.0
    handshake_s: float = 30.0
    handshake_failure: str | None = None
    vin: str = "LFV2A21K0N4000001"
    battery_type: int = 3
    ac_max_power_kw: float | None = None

    def __post_init__(self) -> None:
        if self.capacity_kwh <= 0:
            raise ValueError(f"capacity_kwh must be > 0, got {self.capacity_kwh}")
        for name in ("initial_soc", "target_soc", "cv_knee_soc"):
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name} must be within 0..100, got {value}")
        if self.max_power_kw <= 0:
            raise ValueError(f"max_power_kw must be > 0, got {self.max_power_kw}")
        if self.ac_max_power_kw is not None and self.ac_max_power_kw <= 0:
            raise ValueError(f"ac_max_power_kw must be > 0, got {self.ac_max_power_kw}")
        if self.nominal_voltage_v <= 0:
            raise ValueError(f"nominal_voltage_v must be > 0, got {self.nominal_voltage_v}")
        if self.handshake_s < 0:
            raise ValueError(f"handshake_s must be >= 0, got {self.handshake_s}")
        if self.handshake_failure == "":
            raise ValueError("handshake_failure must be None or a non-empty reason name")
        if len(self.vin) != 17:
            raise ValueError(f"vin must be 17 characters, got {self.vin!r}")


@dataclass(frozen=True, slots=True)
class PileSpec:
    """A pile family: ``kind`` DC (60–120 kW) or AC (7 kW), 1–2 guns.

    ``max_power_kw`` defaults to 60 (DC) / 7 (AC). With ``shared_power`` the guns share
    that budget (equal split among guns drawing current); otherwise each gun has it.
    AC piles report no SOC/BMS data and their handshake lasts ``ac_handshake_s``.
    """

    kind: Literal["DC", "AC"] = "DC"
    guns: int = 1
    max_power_kw: float | None = None
    shared_power: bool = True
    ac_handshake_s: float = 2.0
    ac_voltage_v: float = 220.0
    ambient_c: float = 25.0

    def __post_init__(self) -> None:
        if self.kind not in ("DC", "AC"):
            raise ValueError(f"kind must be 'DC' or 'AC', got {self.kind!r}")
        if self.guns not in (1, 2):
            raise ValueError(f"guns must be 1 or 2, got {self.guns}")
        if self.max_power_kw is None:
            object.__setattr__(self, "max_power_kw", 60.0 if self.kind == "DC" else 7.0)
        elif self.max_power_kw <= 0:
            raise ValueError(f"max_power_kw must be > 0, got {self.max_power_kw}")
        if self.ac_handshake_s < 0 or self.ac_voltage_v <= 0:
            raise ValueError("ac_handshake_s must be >= 0 and ac_voltage_v > 0")

    @property
    def power_kw(self) -> float:
        """The resolved pile power budget in kW."""
        assert self.max_power_kw is not None  # set in __post_init__
        return self.max_power_kw
