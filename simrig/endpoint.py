"""The one shape of every sans-IO endpoint (design.md "The core interface").

Pile firmware and the reference platform are pure state machines: bytes, stimuli and
``now`` (seconds since the scenario epoch) go in; bytes, events and the next timer
deadline come out. Every adapter (simpy, asyncio TCP, pyserial) runs the same pump:

1. feed bytes (``receive_data``), stimuli and expired timers (``handle_timer``) in;
2. write ``data_to_send()`` to the link; drain ``next_event()`` into the capture;
3. re-arm a timer on ``get_timer()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Event:
    """A domain event for capture, reports and the oracle.

    ``kind`` is a short snake_case name (``frame_sent``, ``bill_dropped``, ``quirk``...),
    ``source`` the pile number or ``"platform"``; ``data`` holds JSON-ready details.
    """

    t: float
    kind: str
    source: str
    gun: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Endpoint(Protocol):
    """One side of one connection."""

    def receive_data(self, data: bytes, now: float) -> None: ...

    def handle_timer(self, now: float) -> None: ...

    def get_timer(self) -> float | None:
        """Earliest pending deadline, or None."""
        ...

    def data_to_send(self) -> bytes:
        """Drain the outbox."""
        ...

    def next_event(self) -> Event | None: ...
