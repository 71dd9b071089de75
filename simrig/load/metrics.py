"""The load run's recorder: metrics streamed, nothing per frame kept (issue 13 item 2).

:class:`LoadObserver` is the :class:`~simrig.adapters.realtime.Recorder` of a load run.
It times every request and its reply twice, in real seconds (CLOCK_MONOTONIC read at
each step: uvloop's loop time is cached per loop pass and would hide the driver's lag):

* ``backend`` — from the request's write to the backend's socket (after the link
  model's up delay) to the reply's read from it (before the down delay): the backend's
  own latency plus loopback, never the simulated network's;
* ``pile`` — from the pile's write to the reply's hand-over to the pile: what the pile
  sees, the simulated link's delays included.

Remote start/stop are timed from the app call (``--backend-control``) to the 0x34/0x36
read from the socket. Both figures include the driver's own scheduling lag, which is
measured over every pile timer (:attr:`LoadObserver.timer_lag`) and reported beside them.

Memory is bounded by design: per pile only the requests awaiting a reply (expired after
:data:`ANSWER_WITHIN_S`), the bills uploaded and not yet acknowledged, and an incomplete
frame's bytes; counters and histograms are shared. Backend deviations are analysed on a
sample of piles (:data:`DEVIATION_SAMPLE`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic
from typing import Any

from simrig.capture import Chunk
from simrig.endpoint import Event
from simrig.oracle.deviations import PileDeviations
from simrig.oracle.diagnostics import GiveUp

from .frames import KIND_OF_REQUEST, REMOTE_KINDS, REPLY_TO, heads
from .histograms import encode, new_histogram, new_interval_histogram, record_s, summary_ms

__all__ = ["ANSWER_WITHIN_S", "DEVIATION_SAMPLE", "KINDS", "LoadObserver", "Snapshot"]

#: a request unanswered this long (real seconds) counts as unanswered and is forgotten
ANSWER_WITHIN_S = 30.0
#: piles whose downlink is analysed for spec deviations (full decode: CPU)
DEVIATION_SAMPLE = 50
#: the reply kinds, in report order
KINDS = ("login", "heartbeat", "model_verify", "model_request", "card_auth",
         "remote_start", "remote_stop", "bill_ack")  # fmt: skip
_BILLS = (0x3B, 0x3D)
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
_SERIAL = slice(6, 22)  # the 0x3B/0x3D serial: the first 16 body bytes (§4.12)


class _Pile:
    """What one pile carries between frames."""

    __slots__ = ("connected", "logged_in", "pending", "remote", "rest", "seen", "unacked")

    def __init__(self) -> None:
        self.connected = False
        self.logged_in = False
        self.seen = False  # connected at least once (a later connect is a reconnect)
        #: request type → [seq, pile write, socket write, socket reply] (loop seconds)
        self.pending: dict[int, list[list[Any]]] | None = None
        #: remote kind → app call times waiting for the command (§4.9, §4.11)
        self.remote: dict[str, list[float]] | None = None
        #: bill serial (hex) → loop time of its first upload
        self.unacked: dict[str, float] | None = None
        self.rest = b""  # an incomplete downlink frame


@dataclass
class Counters:
    """Totals of a load run (summed across workers)."""

    frames_up: int = 0
    frames_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    connects: int = 0
    reconnects: int = 0
    disconnects: int = 0
    connect_failures: int = 0  # refused or timed out: the backend's side
    connect_blocked: int = 0  # the link model's outage (a scenario fault, not the backend)
    logins: int = 0
    login_refused: int = 0
    login_timeouts: int = 0
    heartbeat_lost: int = 0
    bills_uploaded: int = 0
    bills_resent: int = 0
    bills_acked: int = 0
    bills_kept: int = 0  # the pile kept it after its retries (uploaded after the next login)
    bills_dropped: int = 0  # the firmware's own decision (a quirk), not the backend's
    unanswered: dict[str, int] = field(default_factory=dict)
    replies_unmatched: int = 0  # a reply whose sequence matched no request (§1.3)
    bytes_skipped: int = 0  # downlink bytes outside any frame (§1.2)
    remote_unmatched: int = 0  # an app start/stop whose command never came
    action_errors: int = 0


@dataclass
class Snapshot:
    """One tick of the live view and the time series (rates over the last interval)."""

    t: float  # real seconds since the run started
    piles_started: int
    connected: int
    logged_in: int
    frames_up: int
    frames_down: int
    bills_uploaded: int
    bills_acked: int
    reconnects: int
    login_failures: int  # refused or timed out logins, failed connects (not outages)
    rss_kb: int  # this process's resident memory (summed across workers)
    #: the interval's histograms, encoded (merged across workers by the parent)
    backend_all: str
    heartbeat: str
    timer_lag: str


class LoadObserver:
    """The recorder of a load run; see the module docstring.

    ``speed``: scenario seconds per real second (app calls come with scenario times);
    ``wall``: scenario seconds → the backend's wall time (the sampled deviation chunks).
    """

    def __init__(
        self,
        piles: Iterable[str],
        *,
        speed: float,
        wall: Callable[[float], datetime],
        deviation_sample: int = DEVIATION_SAMPLE,
        link_corrupts: bool = False,
    ) -> None:
        self.speed = speed
        self.wall = wall
        self.piles = {p: _Pile() for p in piles}
        self.counters = Counters()
        self.backend = {k: new_histogram() for k in KINDS}
        self.pile_seen = {k: new_histogram() for k in KINDS}
        self.timer_lag = new_histogram()
        # the interval histograms of the time series (reset at every snapshot)
        self._interval_backend = new_interval_histogram()
        self._interval_heartbeat = new_interval_histogram()
        self._interval_lag = new_interval_histogram()
        self._deviations = {
            p: PileDeviations(p, link_corrupts) for p in list(self.piles)[:deviation_sample]
        }
        self.connected = 0
        self.logged_in = 0
        self.started = 0
        #: the driver's reason for stopping early (a dead backend), if it did
        self.gave_up = ""
        #: called with (kind, seconds) for every backend reply timed (Locust's events)
        self.on_reply: Callable[[str, float], None] | None = None
        #: called with (kind, why) for every request left unanswered
        self.on_unanswered: Callable[[str, str], None] | None = None
        #: events kept for the dead-backend policy until the first login (then none)
        self._early: list[Event] | None = []
        self._give_up = GiveUp(self.piles)

    # -- the recorder interface ----------------------------------------------------------------
    def sent(self, pile_no: str, data: bytes, now: float) -> None:
        found, _, _ = heads(data)
        state = self.piles[pile_no]
        t = monotonic()
        for kind, seq, start, _ in found:
            if kind in KIND_OF_REQUEST:
                if state.pending is None:
                    state.pending = {}
                key = 0x3B if kind == 0x3D else kind
                state.pending.setdefault(key, []).append([seq, t, None, None])
                if kind in _BILLS:
                    self._bill_sent(state, data[start + _SERIAL.start : start + _SERIAL.stop], t)

    def received(self, pile_no: str, data: bytes, now: float) -> None:
        state = self.piles[pile_no]
        c = self.counters
        c.bytes_down += len(data)
        buf = state.rest + data if state.rest else data
        found, used, skipped = heads(buf)
        state.rest = buf[used:]
        c.bytes_skipped += skipped
        c.frames_down += len(found)
        t = monotonic()
        for kind, seq, _, _ in found:
            request = REPLY_TO.get(kind)
            if request is not None:
                entry = self._match(state, request, seq, _at_backend, fallback=True)
                if entry is not None:
                    entry[3] = t
                    latency = t - entry[2]
                    name = KIND_OF_REQUEST[request]
                    record_s(self.backend[name], latency)
                    record_s(self._interval_backend, latency)
                    if self.on_reply is not None:
                        self.on_reply(name, latency)
                    if request == 0x03:
                        record_s(self._interval_heartbeat, latency)
            elif kind in REMOTE_KINDS:
                name = REMOTE_KINDS[kind]
                calls = state.remote.get(name) if state.remote else None
                if calls:
                    latency = t - calls.pop(0)
                    record_s(self.backend[name], latency)
                    record_s(self._interval_backend, latency)
                    if self.on_reply is not None:
                        self.on_reply(name, latency)
        if pile_no in self._deviations:
            self._deviations[pile_no].feed(Chunk(self.wall(now), pile_no, "down", data))

    def delivered(self, pile_no: str, direction: str, data: bytes, now: float) -> None:
        state = self.piles[pile_no]
        t = monotonic()
        if direction == "up":
            found, _, _ = heads(data)
            c = self.counters
            c.frames_up += len(found)
            c.bytes_up += len(data)
            for kind, seq, _, _ in found:
                if kind in KIND_OF_REQUEST:
                    key = 0x3B if kind == 0x3D else kind
                    entry = self._match(state, key, seq, _in_flight_up)
                    if entry is not None:
                        entry[2] = t
            if pile_no in self._deviations:
                self._deviations[pile_no].feed(Chunk(self.wall(now), pile_no, "up", data))
            return
        if state.pending is None:
            return
        found, _, _ = heads(data)  # a reply as the pile gets it (after the down delay)
        for kind, seq, _, _ in found:
            request = REPLY_TO.get(kind)
            if request is not None:
                entry = self._match(state, request, seq, _replied, fallback=True, count=False)
                if entry is not None:
                    state.pending[request].remove(entry)
                    record_s(self.pile_seen[KIND_OF_REQUEST[request]], t - entry[1])

    def event(self, event: Event) -> None:
        kind = event.kind
        state = self.piles.get(event.source)
        c = self.counters
        if kind == "connected" and state is not None:
            c.connects += 1
            if state.seen:
                c.reconnects += 1
            state.seen = state.connected = True
            self.connected += 1
        elif kind == "disconnected" and state is not None:
            c.disconnects += 1
            if state.connected:
                self.connected -= 1
            if state.logged_in:
                self.logged_in -= 1
            state.connected = state.logged_in = False
            state.rest = b""
        elif kind == "logged_in" and state is not None:
            c.logins += 1
            if not state.logged_in:
                self.logged_in += 1
            state.logged_in = True
        elif kind == "connect_failed":
            if event.data.get("outage"):
                c.connect_blocked += 1
            else:
                c.connect_failures += 1
        elif kind == "login_refused":
            c.login_refused += 1
        elif kind == "login_timeout":
            c.login_timeouts += 1
        elif kind == "heartbeat_lost":
            c.heartbeat_lost += 1
        elif kind == "bill_acked" and state is not None:
            c.bills_acked += 1
            serial = str(event.data.get("serial", ""))
            if state.unacked is not None:
                state.unacked.pop(serial, None)
        elif kind == "bill_kept":
            c.bills_kept += 1
        elif kind == "bill_dropped":
            c.bills_dropped += 1
        elif kind == "action_error":
            c.action_errors += 1
        elif kind == "gave_up":
            self.gave_up = str(event.data.get("reason", ""))
        if self._early is not None and kind in ("logged_in", *GiveUp.FAILURES):
            self._early.append(event)
            if kind == "logged_in":
                self._early = None

    def stimulus(self) -> None:
        pass

    def timer_fired(self, pile_no: str, due: float) -> None:
        late_s = monotonic() - due  # the clock itself: uvloop's loop time is cached per pass
        record_s(self.timer_lag, late_s)
        record_s(self._interval_lag, late_s)

    # -- driven by the load runner ---------------------------------------------------------------
    def app_called(self, pile_no: str, kind: str) -> None:
        """An app start/stop for ``pile_no`` goes to the backend's API now."""
        state = self.piles[pile_no]
        if state.remote is None:
            state.remote = {}
        state.remote.setdefault(kind, []).append(monotonic())

    def give_up(self, _events: object = None) -> str | None:
        """The driver's early stop: every pile failed twice and none ever logged in."""
        return None if self._early is None else self._give_up(self._early)

    def expire(self, loop_t: float) -> None:
        """Forget requests unanswered for :data:`ANSWER_WITHIN_S` (counted per kind) and
        app calls whose command never came."""
        limit = loop_t - ANSWER_WITHIN_S
        unanswered = self.counters.unanswered
        for state in self.piles.values():
            if state.pending:
                for request, entries in state.pending.items():
                    while entries and entries[0][1] < limit:
                        entry = entries.pop(0)
                        if entry[3] is None:  # a reply lost on the down link is answered
                            name = KIND_OF_REQUEST[request]
                            unanswered[name] = unanswered.get(name, 0) + 1
                            if self.on_unanswered is not None:
                                why = f"no reply within {ANSWER_WITHIN_S:g} s"
                                self.on_unanswered(name, why)
            if state.remote:
                for calls in state.remote.values():
                    while calls and calls[0] < limit:
                        calls.pop(0)
                        self.counters.remote_unmatched += 1

    def snapshot(self, t: float) -> Snapshot:
        """The live figures now; the interval histograms start again."""
        c = self.counters
        snap = Snapshot(
            t=t,
            piles_started=self.started,
            connected=self.connected,
            logged_in=self.logged_in,
            frames_up=c.frames_up,
            frames_down=c.frames_down,
            bills_uploaded=c.bills_uploaded,
            bills_acked=c.bills_acked,
            reconnects=c.reconnects,
            login_failures=c.login_refused + c.login_timeouts + c.connect_failures,
            rss_kb=_rss_kb(),
            backend_all=encode(self._interval_backend),
            heartbeat=encode(self._interval_heartbeat),
            timer_lag=encode(self._interval_lag),
        )
        for h in (self._interval_backend, self._interval_heartbeat, self._interval_lag):
            h.reset()
        return snap

    def bills_open(self, loop_t: float, grace_s: float = ANSWER_WITHIN_S) -> tuple[int, int]:
        """(never acknowledged: first uploaded over ``grace_s`` ago, still in flight)."""
        lost = in_flight = 0
        for state in self.piles.values():
            for first in (state.unacked or {}).values():
                if first < loop_t - grace_s:
                    lost += 1
                else:
                    in_flight += 1
        return lost, in_flight

    def deviations(self) -> dict[str, int]:
        """Backend deviations by kind, over the sampled piles (closes their analysis)."""
        kinds: dict[str, int] = {}
        for analysis in self._deviations.values():
            for found in analysis.close():
                kinds[found.kind] = kinds.get(found.kind, 0) + 1
        self._deviations = {}
        return kinds

    @property
    def deviation_piles(self) -> int:
        return len(self._deviations)

    def latency(self) -> dict[str, dict[str, dict[str, float | int]]]:
        """Per kind, the backend's and the pile's latency summary (ms)."""
        return {
            k: {"backend": summary_ms(self.backend[k]), "pile": summary_ms(self.pile_seen[k])}
            for k in KINDS
        }

    # -- helpers -------------------------------------------------------------------------------
    def _bill_sent(self, state: _Pile, serial: bytes, t: float) -> None:
        key = serial.hex()
        if state.unacked is None:
            state.unacked = {}
        if key in state.unacked:
            self.counters.bills_resent += 1
        else:
            state.unacked[key] = t
            self.counters.bills_uploaded += 1

    def _match(
        self,
        state: _Pile,
        request: int,
        seq: int,
        stage: Callable[[list[Any]], bool],
        *,
        fallback: bool = False,
        count: bool = True,
    ) -> list[Any] | None:
        """The oldest pending request of that type and sequence in ``stage``; with
        ``fallback`` a reply whose sequence matches none takes the oldest in that stage
        (counted as unmatched: the backend did not echo the sequence, §1.3)."""
        entries = state.pending.get(request) if state.pending else None
        if not entries:
            return None
        first = None
        for entry in entries:
            if stage(entry):
                if entry[0] == seq:
                    return entry
                if first is None:
                    first = entry
        if first is None or not fallback:
            return None
        if count:
            self.counters.replies_unmatched += 1
        return first


def _rss_kb() -> int:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _in_flight_up(entry: list[Any]) -> bool:
    return entry[2] is None


def _at_backend(entry: list[Any]) -> bool:
    return entry[2] is not None and entry[3] is None


def _replied(entry: list[Any]) -> bool:
    return entry[3] is not None
