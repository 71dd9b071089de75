"""The firmware image a pile runs: its profile, replaced by a remote upgrade + reboot."""

from __future__ import annotations

from .profile import FirmwareProfile, Timings

__all__ = ["Image"]


class Image:
    """The running profile and its timings (read by every part, changed only at boot)."""

    __slots__ = ("profile", "timings")

    def __init__(self, profile: FirmwareProfile) -> None:
        self.profile = profile
        self.timings: Timings = profile.timings

    def install(self, profile: FirmwareProfile) -> None:
        """Boot into ``profile`` (0x94 upgrade)."""
        self.profile = profile
        self.timings = profile.timings
