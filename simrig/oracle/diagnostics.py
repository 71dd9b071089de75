"""Diagnostics before verdicts: could the piles talk to the backend at all? (issue 11 item 5)

A pure analysis of a real-time run's events and captured chunks, per pile: connection
refused or timed out, closed by the backend, heartbeat/login timeouts, non-YKC replies,
login refused (0x02 result ≠ 0x00, §4.2), and a required reply missing within
:data:`REPLY_WITHIN_S` (no 0x02 to 0x01, no 0x0A to 0x09, no 0x32 to 0x31; §3 items 1
and 5). Each pile gets one line; each problem keeps its evidence frames (hex).

The run's :func:`backend_status` is ``unreachable`` when no pile ever connected,
``incompatible`` when piles connected but none ever logged in, else ``ok``; the runner
marks the sessions of an unreachable or incompatible run "not judged" (never "bill lost").

:class:`GiveUp` is the one policy that ends a real-time run early against a dead backend.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from simrig.capture.record import Chunk
from simrig.endpoint import Event
from simrig.oracle.device_view import decode_chunks
from simrig.protocol.ykc import ErrorKind, Frame, Framer, LoginReply, LoginResult

__all__ = [
    "DEAD_BACKEND_ATTEMPTS",
    "REPLY_WITHIN_S",
    "Diagnosis",
    "GiveUp",
    "Problem",
    "backend_status",
    "diagnose",
]

#: a required reply later than this (scenario seconds) after its request counts as missing
REPLY_WITHIN_S = 30.0
#: failed attempts (connect failed, login refused or timed out) per pile before giving up
DEAD_BACKEND_ATTEMPTS = 2
#: the replies a pile cannot do without: request type → (reply type, what it is for)
REQUIRED = {
    0x01: (0x02, "login"),
    0x09: (0x0A, "billing model"),
    0x31: (0x32, "card authorisation"),
}
_EVIDENCE = 3  # frames kept per problem
_NON_YKC = frozenset(
    {ErrorKind.GARBAGE, ErrorKind.BAD_LENGTH, ErrorKind.BAD_CRC, ErrorKind.TRUNCATED}
)
#: pile events after which the pile itself closes the connection
_PILE_CLOSES = frozenset({"login_refused", "login_timeout", "heartbeat_lost", "reboot"})
_SAME_MOMENT_S = 1.0


@dataclass
class Problem:
    """One kind of trouble on one pile: how often, since when, and the frames showing it."""

    kind: str
    detail: str
    first_at: float | datetime
    count: int = 1
    evidence: list[str] = field(default_factory=list)

    def text(self) -> str:
        times = f" ×{self.count}" if self.count > 1 else ""
        return f"{self.kind}{times} ({self.detail})"


@dataclass
class Diagnosis:
    """A pile's connection story: did it connect, log in, get its required replies?"""

    pile_no: str
    connected: bool = False
    logged_in: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.logged_in:
            return "ok" if not self.problems else "degraded"
        return "incompatible" if self.connected else "unreachable"

    def line(self) -> str:
        """One clear line for the console."""
        head = {
            "ok": "ok",
            "degraded": "logged in, but",
            "incompatible": "connected, never logged in:",
            "unreachable": "never connected:",
        }[self.status]
        if not self.problems and self.status != "ok":
            return f"{self.pile_no}: {head} the run ended first (no failure seen)"
        return f"{self.pile_no}: {head} " + "; ".join(p.text() for p in self.problems)

    def add(self, kind: str, detail: str, at: float | datetime, evidence: str = "") -> None:
        for p in self.problems:
            if p.kind == kind:
                p.count += 1
                if evidence and len(p.evidence) < _EVIDENCE:
                    p.evidence.append(evidence)
                return
        self.problems.append(Problem(kind, detail, at, 1, [evidence] if evidence else []))


def _connect_kind(error: str) -> str:
    text = error.lower()
    if "refused" in text or f"[errno {errno.ECONNREFUSED}]" in text:
        return "connection refused"
    if not text or "timed out" in text or "timeout" in text:
        return "connect timeout"
    return "connect failed"


def diagnose(
    piles: Iterable[str], events: Sequence[Event], chunks: Sequence[Chunk]
) -> dict[str, Diagnosis]:
    """Per pile, what went wrong talking to the backend (piles with no trouble: ``ok``)."""
    out = {p: Diagnosis(p) for p in piles}
    last_pile_event: dict[str, tuple[float, str]] = {}
    for e in events:
        d = out.get(e.source)
        if d is None:
            continue
        if e.kind == "connected":
            d.connected = True
        elif e.kind == "logged_in":
            d.logged_in = True
        elif e.kind == "connect_failed":
            error = str(e.data.get("error", "")) if e.data else ""
            d.add(_connect_kind(error), error or "no answer", e.t)
        elif e.kind == "login_timeout":
            d.add("login timeout", "no 0x02 login reply (§4.2) before the pile gave up", e.t)
        elif e.kind == "heartbeat_lost":
            d.add("heartbeat timeout", "no 0x04 to 3 heartbeats (§3 item 2)", e.t)
        elif e.kind == "disconnected":
            t, _ = last_pile_event.pop(e.source, (-1e9, ""))
            if e.t - t > _SAME_MOMENT_S:  # not right after the pile's own reason to close
                d.add("closed by backend", "the backend closed or reset the connection", e.t)
        if e.kind in _PILE_CLOSES:
            last_pile_event[e.source] = (e.t, e.kind)
    _frames(out, chunks)
    return out


def _frames(out: dict[str, Diagnosis], chunks: Sequence[Chunk]) -> None:
    """Login refusals, missing required replies and non-YKC replies, from the bytes."""
    pending: dict[tuple[str, int], list[tuple[datetime, str]]] = {}
    valid_down: set[str] = set()
    garbage: dict[str, tuple[datetime, bytes]] = {}
    framers: dict[str, Framer] = {}
    for chunk in chunks:
        d = out.get(chunk.pile_no)
        if d is None or chunk.direction != "down":
            continue
        framer = framers.setdefault(chunk.pile_no, Framer(tolerant=True))
        for item in framer.feed(chunk.data):
            if isinstance(item, Frame):
                valid_down.add(chunk.pile_no)
            elif item.kind in _NON_YKC:
                garbage.setdefault(chunk.pile_no, (chunk.at, chunk.data))
    for pile, framer in framers.items():  # bytes still waiting for a frame at the end
        if framer.close() and pile not in garbage:
            first = next(c for c in chunks if c.pile_no == pile and c.direction == "down")
            garbage[pile] = (first.at, first.data)
    for pile, (at, data) in garbage.items():
        if pile not in valid_down:
            out[pile].add("non-YKC reply", f"first bytes {data[:16].hex(' ')}", at, data[:64].hex())
    wanted = frozenset(REQUIRED) | {r for r, _ in REQUIRED.values()}
    for chunk, frame in decode_chunks(chunks, wanted):
        d = out.get(chunk.pile_no)
        if d is None:
            continue
        if chunk.direction == "up" and frame.type in REQUIRED:
            pending.setdefault((chunk.pile_no, frame.type), []).append((chunk.at, frame.raw.hex()))
            continue
        if chunk.direction != "down":
            continue
        msg = frame.message
        if isinstance(msg, LoginReply) and msg.result != LoginResult.OK:
            d.add(
                "login refused",
                f"0x02 result 0x{int(msg.result):02X} (§4.2: 0x00 success)",
                chunk.at,
                frame.raw.hex(),
            )
        request = next((q for q, (r, _) in REQUIRED.items() if r == frame.type), None)
        if request is not None:
            waiting = pending.get((chunk.pile_no, request), [])
            _missing(d, request, [w for w in waiting if _late(w[0], chunk.at)])
            waiting.clear()
    end = max((c.at for c in chunks), default=None)
    for (pile, request), waiting in pending.items():
        if end is not None:
            _missing(out[pile], request, [w for w in waiting if _late(w[0], end)])


def _late(sent: datetime, now: datetime) -> bool:
    return (now - sent).total_seconds() > REPLY_WITHIN_S


def _missing(d: Diagnosis, request: int, unanswered: list[tuple[datetime, str]]) -> None:
    reply, what = REQUIRED[request]
    for at, hex_ in unanswered:
        d.add(
            f"no 0x{reply:02X} to 0x{request:02X}",
            f"{what} reply missing within {REPLY_WITHIN_S:.0f} s",
            at,
            hex_,
        )


def backend_status(diagnoses: dict[str, Diagnosis]) -> str:
    """``unreachable`` (no pile connected), ``incompatible`` (none logged in) or ``ok``;
    ``untested`` when no pile logged in but none has a problem either: the run ended
    before the backend could answer (a rig that started late, a scenario too short at its
    ``--speed``) — no evidence against the backend, so it is not called dead."""
    if not diagnoses or any(d.logged_in for d in diagnoses.values()):
        return "ok"
    if not any(d.problems for d in diagnoses.values()):
        return "untested"
    if any(d.connected for d in diagnoses.values()):
        return "incompatible"
    return "unreachable"


class GiveUp:
    """When to stop a real-time run early: the backend is plainly dead or incompatible.

    The run stops once *every* pile has failed :data:`DEAD_BACKEND_ATTEMPTS` times (connect
    failed, login refused, login timed out) and no pile has ever logged in. With the
    piles' reconnect back-off (5 s, then doubling) a dead port is given up after the
    second attempt, about 5 scenario-seconds in. Called with the run's growing event
    list; reads only the new events each time.
    """

    FAILURES = frozenset({"connect_failed", "login_refused", "login_timeout"})

    def __init__(self, piles: Iterable[str], attempts: int = DEAD_BACKEND_ATTEMPTS) -> None:
        self.failures = dict.fromkeys(piles, 0)
        self.attempts = attempts
        self.logged_in = False
        self._seen = 0

    def __call__(self, events: Sequence[Event]) -> str | None:
        """The reason to stop now, or None."""
        for e in events[self._seen :]:
            if e.kind == "logged_in":
                self.logged_in = True
            elif e.kind in self.FAILURES and e.source in self.failures:
                self.failures[e.source] += 1
        self._seen = len(events)
        if self.logged_in or not self.failures:
            return None
        if min(self.failures.values()) < self.attempts:
            return None
        return (
            f"every pile failed {self.attempts} time(s) to connect or log in and none "
            f"ever logged in: backend unreachable or incompatible"
        )
