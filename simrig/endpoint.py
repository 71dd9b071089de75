"""The shapes of the sans-IO endpoints the drivers pump (design.md "The core interface").

Pile firmware and the reference platform are pure state machines: bytes, stimuli and
``now`` (seconds since the scenario epoch) go in; bytes, events and the next timer
deadline come out. Every adapter (simpy, asyncio TCP, pyserial) runs the same pump:

1. feed bytes (``receive_data``), stimuli and expired timers (``handle_timer``) in;
2. write ``data_to_send()`` to the link; drain ``next_event()`` into the capture;
3. re-arm a timer on ``get_timer()``.

A pile is a client with one link (:class:`PileEndpoint`). The platform is a server with
many links at once (:class:`ServerEndpoint`): the same pump, every byte call keyed by a
connection id the driver assigns. Both offer ``speed``, the virtual driver's seam
(:mod:`simrig.speed_seam`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from simrig.speed_seam import PileSpeedHooks, PlatformSpeedHooks
    from simrig.stimuli import Stimulus


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
    """One side of one connection: the pump every driver runs."""

    def receive_data(self, data: bytes, now: float) -> None: ...

    def handle_timer(self, now: float) -> None: ...

    def get_timer(self) -> float | None:
        """Earliest pending deadline, or None."""
        ...

    def data_to_send(self) -> bytes:
        """Drain the outbox."""
        ...

    def next_event(self) -> Event | None: ...


class PileEndpoint(Endpoint, Protocol):
    """A pile: a client endpoint that opens its own link and takes stimuli.

    The driver opens a connection when ``wants_connection`` and reports the outcome
    (``connection_made`` / ``connection_failed``), closes it when ``close_requested``,
    and reports a drop with ``connection_lost``. Stimuli (plug, card, reboot...) come
    from the scenario or the plant.
    """

    pile_no: str
    emit_frame_events: bool
    telemetry_on_paper: bool

    @property
    def speed(self) -> PileSpeedHooks: ...

    @property
    def wants_connection(self) -> bool: ...

    @property
    def close_requested(self) -> bool: ...

    def connection_made(self, now: float) -> None: ...

    def connection_lost(self, now: float) -> None: ...

    def connection_failed(self, now: float) -> None: ...

    def handle_stimulus(self, stimulus: Stimulus, now: float) -> None: ...


class ServerEndpoint(Protocol):
    """The platform: the same pump over many connections, each keyed by ``conn_id``.

    Bytes in and out are per connection; timers and events are the server's own.
    ``should_close`` asks the driver to close a connection (after its output is written).
    """

    @property
    def speed(self) -> PlatformSpeedHooks: ...

    def connection_made(self, conn_id: int, now: float, peer: str = "") -> None: ...

    def connection_lost(self, conn_id: int, now: float) -> None: ...

    def receive_data(self, conn_id: int, data: bytes, now: float) -> None: ...

    def data_to_send(self, conn_id: int) -> bytes: ...

    def connections_with_output(self) -> list[int]: ...

    def should_close(self, conn_id: int) -> bool: ...

    def is_logged_in(self, conn_id: int) -> bool: ...

    def handle_timer(self, now: float) -> None: ...

    def get_timer(self) -> float | None: ...

    def next_event(self) -> Event | None: ...
