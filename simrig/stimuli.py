"""Stimuli a scenario applies to a pile: the physical world and the faults done to it.

A *quirk* is what firmware does; a *fault* (power cut, reboot, ...) is what a scenario does
to it (issue 4). These are plain data; ``PileFirmware.handle_stimulus`` acts on them,
changing the plant (truth) first and then letting the firmware notice, like hardware.
"""

from __future__ import annotations

from dataclasses import dataclass

from simrig.plant import VehicleSpec


@dataclass(frozen=True, slots=True)
class Plug:
    """A vehicle's connector is plugged into ``gun``."""

    gun: int
    vehicle: VehicleSpec


@dataclass(frozen=True, slots=True)
class Unplug:
    """The gun is pulled out of the vehicle and returned to the holster."""

    gun: int


@dataclass(frozen=True, slots=True)
class CardScan:
    """A card is presented at the pile's reader (starts, or stops the card's own session)."""

    gun: int
    card: str  # physical card, 16 hex digits (opaque, protocol §1.5)
    password_md5: str | None = None


@dataclass(frozen=True, slots=True)
class StopButton:
    """The user stops the session on the pile's screen (manual stop, reason 0x45)."""

    gun: int


@dataclass(frozen=True, slots=True)
class ChargingFault:
    """The pile's power stage faults during charging (Sinexcel reason 98 "device fault"
    during charging, 46/47 voltage/current abnormal): the pile stops the session with
    stop reason 0x75 output abnormal (field-incidents.md mapping)."""

    gun: int


@dataclass(frozen=True, slots=True)
class BmsStop:
    """The vehicle's BMS stops actively before its target (Sinexcel reason 10); the pile
    sees current end and the BMS stop and ends the session (zpd_case#21 family)."""

    gun: int


@dataclass(frozen=True, slots=True)
class EmergencyStop:
    pressed: bool = True


@dataclass(frozen=True, slots=True)
class PowerCut:
    """Supply power lost: the pile dies (no frames) until PowerRestore, then boots."""


@dataclass(frozen=True, slots=True)
class PowerRestore:
    pass


@dataclass(frozen=True, slots=True)
class LocalReboot:
    """A local reboot (watchdog, technician); the remote one is the 0x92 frame."""


Stimulus = (
    Plug
    | Unplug
    | CardScan
    | StopButton
    | ChargingFault
    | BmsStop
    | EmergencyStop
    | PowerCut
    | PowerRestore
    | LocalReboot
)
