"""What a gun reports as its state in 0x13 (protocol-ykc §4.8): status and plug flag."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simrig.protocol.ykc import GunStatus

from .phases import Phase

if TYPE_CHECKING:
    from simrig.plant import PhysicalPile

    from .records import GunRecord

__all__ = ["ZERO_SERIAL", "reported_plugged", "state_key"]

ZERO_SERIAL = "0" * 32
_FAULT, _CHARGING, _IDLE = int(GunStatus.FAULT), int(GunStatus.CHARGING), int(GunStatus.IDLE)
_PHASE_CHARGING = Phase.CHARGING


def state_key(g: GunRecord, plant: PhysicalPile, now: float) -> tuple[int, bool]:
    """(status, plugged) the gun reports now; a change sends a 0x13 at once."""
    s = g.session
    if plant.emergency_stop_pressed(now):
        status = _FAULT
    elif s is not None and s.phase is _PHASE_CHARGING:
        status = _CHARGING
    else:
        status = _IDLE
    return status, reported_plugged(g, now)


def reported_plugged(g: GunRecord, now: float) -> bool:
    """The plug flag reported: a stale plug (occupancy_spike), a masked unplug
    (reboot_plugged_loses_bill) or a hidden plug (preparing_before_ready) win."""
    if g.stale_plug_until is not None and now < g.stale_plug_until:
        return True
    if g.masked_unplug:
        return False
    s = g.session
    if s is not None and s.hide_plug:
        return False
    return g.plant.plugged(now)
