"""What a virtual-time run records besides its verdicts (the verdicts are the same
whatever it keeps: tests/cli/test_fleet_paper.py)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVERYTHING", "VERDICTS_ONLY", "Keep"]

#: a run longer than this keeps no frame events by default (its capture has the bytes)
FRAME_EVENTS_UP_TO_S = 2 * 86400.0


@dataclass(frozen=True, slots=True)
class Keep:
    """What a virtual-time run records.

    ``frame_events``: a ``frame_sent`` / ``frame_received`` event per frame (None: for
    runs up to two days). ``truth_samples``: the plant sampled at every change (the
    timelines' truth lanes; verdicts read the plant's own record). ``bms_frames``: BMS
    telemetry (0x23 / 0x25, §4.18) sent as frames; False counts them on paper — they get
    no reply and no check reads them, and each goes with a 0x13 at the same instant, so
    the platform's liveness is the same. ``realtime_frames``: 0x13 (§4.6) as bytes in the
    capture; False (with no frame events) carries each 0x13 on a clean link decoded to
    the platform, at the instant its bytes would arrive — the same frame, handled in the
    same order, without encoding, link model and parsing
    (:attr:`~simrig.adapters.virtual.VirtualDriver.paper_realtime`).
    ``realtime_readings``: the electrical readings of each 0x13 (voltage, current,
    temperatures, SoC, remaining time), which only the platform's stored samples hold
    (its HTTP API reads them, no check does); False leaves them at their defaults in a
    0x13 on paper and the embedded platform stores no realtime sample.
    """

    frame_events: bool | None = None
    truth_samples: bool = True
    bms_frames: bool = True
    realtime_frames: bool = True
    realtime_readings: bool = True

    def frame_events_for(self, duration_s: float) -> bool:
        """Whether a run of ``duration_s`` records frame events."""
        if self.frame_events is None:
            return duration_s <= FRAME_EVENTS_UP_TO_S
        return self.frame_events


#: everything (reports, timelines, captures with events)
EVERYTHING = Keep()
#: what a verdict needs and nothing else (fleet shards, the lean station-month)
VERDICTS_ONLY = Keep(
    frame_events=False,
    truth_samples=False,
    bms_frames=False,
    realtime_frames=False,
    realtime_readings=False,
)
