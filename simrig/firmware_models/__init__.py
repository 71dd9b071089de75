"""Pile firmware models: sans-IO YKC pile firmware with versioned quirks (issue 4).

``PileFirmware`` runs one pile's firmware against its plant pile; ``load_profile``
loads a ``vendor-model@version`` profile (TOML, built-in or from user directories);
quirks are in :mod:`.quirks`, each citing the field incident it reproduces.
"""

from .clock import PileClock
from .pile import DeviceSession, PileFirmware
from .profile import (
    FirmwareProfile,
    ProfileError,
    Timings,
    list_profiles,
    load_profile,
    parse_profile,
)
from .quirks import QUIRKS, Quirk

__all__ = [
    "QUIRKS",
    "DeviceSession",
    "FirmwareProfile",
    "PileClock",
    "PileFirmware",
    "ProfileError",
    "Quirk",
    "Timings",
    "list_profiles",
    "load_profile",
    "parse_profile",
]
