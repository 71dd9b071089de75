"""The backend's replies in a replay against the recorded ones, and the verdicts of both (pure).

Each recorded backend frame is matched with a fresh one of the same type on the same
pile: frames that carry a transaction serial they did not allocate (0x40 acks, §4.12) by
the serial (mapped) and its occurrence, all others by position (the *k*-th of the type).
Fields are compared after mapping the fresh values back (serials, pile numbers, times
minus the clock offset, at the recorded timing only); the sequence number only as
"echoes the request or not" (§1.3). Timing, beyond a tolerance: a reply's delay after its
request; another frame's time since the capture's start (at the recorded timing only).
Unmatched recorded frames are *missing*, unmatched fresh ones *extra*; the replies to
heartbeats put back (:func:`~simrig.replay.plan.build_plan`) are left out.

The verdict check reads both captures with the frames-only device view
(:func:`~simrig.oracle.device_view.device_orders`): each recorded order's bills must be
sent and acked the same way in the replay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from simrig.oracle.device_view import device_orders
from simrig.oracle.views import AckState, DeviceBill, DeviceOrder
from simrig.protocol.ykc import HeartbeatReply
from simrig.replay.plan import REQUESTS_OF, Framed, WireFrame
from simrig.replay.rewrite import SERIAL_ALLOCATORS, Rewriter

__all__ = ["KINDS", "Difference", "ReplayDiff", "diff_replay", "diff_verdicts"]

#: kinds of difference, in the order the report lists them
KINDS = ("missing", "extra", "field", "echo", "timing", "verdict", "unreadable")


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    pile_no: str
    what: str  # "0x32 card_auth_reply #1", or the order serial for a verdict
    field: str = ""
    recorded: str = ""
    fresh: str = ""
    at: datetime | None = None  # when, in the recording (None: only in the replay)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pile": self.pile_no,
            "what": self.what,
            "field": self.field,
            "recorded": self.recorded,
            "fresh": self.fresh,
            "at": self.at.isoformat(timespec="milliseconds") if self.at else None,
        }


@dataclass
class ReplayDiff:
    differences: list[Difference] = field(default_factory=list)
    recorded_replies: int = 0
    fresh_replies: int = 0
    matched: int = 0

    @property
    def same(self) -> bool:
        return not self.differences

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for d in self.differences:
            out[d.kind] += 1
        return out


def _text(value: Any) -> str:
    if isinstance(value, IntEnum):
        return f"{value.name.lower()} ({int(value)})"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return str(value)


def _serial_key(wf: WireFrame) -> str | None:
    """The serial a frame is matched by (frames carrying one they did not allocate)."""
    if wf.frame is None or wf.type in SERIAL_ALLOCATORS:
        return None
    serial = getattr(wf.frame.message, "serial", None)
    return serial if isinstance(serial, str) else None


def _keyed(
    frames: Iterable[WireFrame], serial_of: dict[str, str] | None = None
) -> dict[tuple[Any, ...], WireFrame]:
    """Frames by match key: (type, serial, occurrence) or (type, position)."""
    out: dict[tuple[Any, ...], WireFrame] = {}
    seen: dict[tuple[int, str], int] = {}
    for wf in frames:
        serial = _serial_key(wf)
        if serial is not None and serial_of is not None:
            serial = serial_of.get(serial, serial)
        n = seen.get((wf.type, serial or ""), 0)
        seen[wf.type, serial or ""] = n + 1
        out[(wf.type, serial, n) if serial is not None else (wf.type, n)] = wf
    return out


def _delay(wf: WireFrame) -> float | None:
    return (wf.at - wf.since).total_seconds() if wf.since is not None else None


def diff_replay(
    recorded: Framed,
    fresh: Framed,
    rewriter: Rewriter,
    *,
    timing_tolerance_s: float = 2.0,
    timed: bool = True,
    time_tolerance: timedelta = timedelta(seconds=2),
) -> ReplayDiff:
    """Every recorded backend frame against the fresh one matched with it.

    ``timed``: the replay kept the recorded timing (scaled), so the times of unsolicited
    frames and the backend's clock count too; as fast as replies, only the replies'
    delays after their requests.
    ``time_tolerance``: for time fields (0x56), after the clock offset (timed only).
    """
    result = ReplayDiff()
    back = {new: old for old, new in rewriter.serials.items()}
    # timed, the backend's clock ran with the recording's: one offset (the first 0x56's)
    # holds for every time it sends; as fast as replies, the replay compressed time and
    # the backend's times cannot be compared (each 0x56 pair tells its own offset)
    offsets = rewriter.clock_offsets
    offset = (offsets[0] if offsets else rewriter.clock_offset) if timed else timedelta.max
    piles = dict.fromkeys(f.pile_no for f in recorded.frames)
    for pile in piles:
        fresh_pile = rewriter.fresh_pile(pile)
        rec = _keyed(recorded.down(pile))
        put_back = rewriter.synthetic_seq
        new = _keyed(
            (
                f
                for f in fresh.down(fresh_pile)
                if not (f.type == HeartbeatReply.TYPE and (fresh_pile, f.seq) in put_back)
            ),
            back,
        )
        result.recorded_replies += len(rec)
        result.fresh_replies += len(new)
        for key, old in rec.items():
            twin = new.pop(key, None)
            if twin is None:
                result.differences.append(Difference("missing", pile, old.label, at=old.at))
                continue
            result.matched += 1
            result.differences += _compare(pile, old, twin, rewriter, offset, time_tolerance)
            result.differences += _timing(
                pile, old, twin, timing_tolerance_s, timed, (recorded.start, fresh.start)
            )
        for twin in new.values():
            label = twin.label
            result.differences.append(Difference("extra", pile, label, fresh=_at(twin)))
    for error in fresh.errors[len(recorded.errors) :]:  # more than the recording had
        result.differences.append(Difference("unreadable", "", "backend bytes", fresh=error))
    result.differences += diff_verdicts(
        device_orders(recorded.chunks), device_orders(fresh.chunks), rewriter, timing_tolerance_s
    )
    return result


def _at(wf: WireFrame) -> str:
    return f"at {wf.at.isoformat(timespec='milliseconds')}"


def _compare(
    pile: str,
    old: WireFrame,
    new: WireFrame,
    rewriter: Rewriter,
    offset: timedelta,
    tolerance: timedelta,
) -> list[Difference]:
    if old.frame is None or new.frame is None:
        return []
    out: list[Difference] = []
    before = old.frame.message.as_dict()
    after = rewriter.as_recorded(new.frame.message, offset)
    for name, value in before.items():
        if name not in after:  # a time the replay cannot compare
            continue
        fresh_value = after.get(name)
        if isinstance(value, datetime) and isinstance(fresh_value, datetime):
            if abs(fresh_value - value) <= tolerance:
                continue
        elif fresh_value == value:
            continue
        out.append(
            Difference("field", pile, old.label, name, _text(value), _text(fresh_value), old.at)
        )
    if old.echo != new.echo:
        echo = ("echoes the request's", "its own")
        out.append(
            Difference(
                "echo", pile, old.label, "seq", echo[not old.echo], echo[not new.echo], old.at
            )
        )
    return out


def _timing(
    pile: str,
    old: WireFrame,
    new: WireFrame,
    tolerance_s: float,
    timed: bool,
    starts: tuple[datetime | None, datetime | None],
) -> list[Difference]:
    """A reply: its delay after its request; another frame (only when the replay kept the
    recorded timing): when it came, counted from the start of each capture."""
    if old.type in REQUESTS_OF:
        before, after, what = _delay(old), _delay(new), "delay"
    elif timed and starts[0] is not None and starts[1] is not None:
        before = (old.at - starts[0]).total_seconds()
        after = (new.at - starts[1]).total_seconds()
        what = "time since start"
    else:
        return []
    if before is None or after is None or abs(after - before) <= tolerance_s:
        return []
    return [
        Difference("timing", pile, old.label, what, f"{before:.3f} s", f"{after:.3f} s", old.at)
    ]


def diff_verdicts(
    recorded: list[DeviceOrder],
    fresh: list[DeviceOrder],
    rewriter: Rewriter,
    timing_tolerance_s: float = 0.0,
) -> list[Difference]:
    """Each recorded order's bills, sent and acked, against the fresh order's (frames only).

    An ack in time against one late (after the pile's 30 s retry, §4.12) is a matter of
    timing: it differs only when the two acks' delays differ by more than
    ``timing_tolerance_s``, as a reply's delay does (a replay at 600× has 50 ms of real
    time for those 30 s; a stall of the rig's own machine must not blame the backend)."""
    by_serial = {o.serial: o for o in fresh}
    out: list[Difference] = []
    for order in recorded:
        serial = rewriter.serials.get(order.serial, order.serial)
        twin = by_serial.get(serial)
        what = f"order {order.serial}"
        if twin is None:
            out.append(Difference("verdict", order.pile_no, what, "order", "executed", "absent"))
            continue
        if len(order.bills) != len(twin.bills):
            counts = (str(len(order.bills)), str(len(twin.bills)))
            out.append(Difference("verdict", order.pile_no, what, "bills", *counts))
        for old, new in zip(order.bills, twin.bills, strict=False):
            for name in ("ack_state", "energy_kwh", "amount_yuan", "stop_reason", "transmissions"):
                a, b = getattr(old, name), getattr(new, name)
                if a != b and not (
                    name == "ack_state" and _ack_delays_agree(old, new, timing_tolerance_s)
                ):
                    out.append(
                        Difference("verdict", order.pile_no, what, f"bill {name}", str(a), str(b))
                    )
    return out


_ACKED_IN_TIME_OR_LATE = frozenset({AckState.ACKED, AckState.ACKED_LATE})


def _ack_delays_agree(old: DeviceBill, new: DeviceBill, tolerance_s: float) -> bool:
    """Both bills acked (one in time, one late) after delays within ``tolerance_s``."""
    if {old.ack_state, new.ack_state} != _ACKED_IN_TIME_OR_LATE:
        return False
    if old.acked_at is None or new.acked_at is None:  # a bill built without its ack
        return False
    before = (old.acked_at - old.sent_at).total_seconds()
    after = (new.acked_at - new.sent_at).total_seconds()
    return abs(after - before) <= tolerance_s
