"""What must be fresh in a replayed pile frame, rewritten at send time (pure).

* **Sequence numbers** (§1.3): the pile's own frames take a fresh counter per pile (from
  1, as a pile that just booted); a reply that echoed its request's number in the
  recording echoes the fresh request's.
* **Transaction serials** (§4.8, §4.9: the backend allocates them in its 0x32/0x34/0xA2/
  0xA4): each recorded serial maps to the serial the fresh backend allocated in the reply
  at the same place (the *k*-th of that type on that pile); every later pile frame
  carrying the recorded serial carries the fresh one.
* **Times** (CP56Time2a, §1.6: bill start/end/trade times, 0x55): shifted by the clock
  offset, learned from each 0x56 time sync pair (the fresh backend's time minus the
  recorded one); before any, the offset between the two runs' starts is used.
* **Pile numbers** (``--pile-map OLD=NEW``).

The CRC comes from re-encoding through the codec (:func:`~simrig.protocol.ykc.encode_frame`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from simrig.protocol.ykc import FieldError, Frame, Message, TimeSync, encode_frame
from simrig.protocol.ykc.wire import Cp56Time
from simrig.replay.plan import REPLIES, Framed, WireFrame

__all__ = ["SERIAL_ALLOCATORS", "ZERO_SERIAL", "Rewriter", "time_fields"]

ZERO_SERIAL = "0" * 32
#: the backend's frames that allocate a transaction serial (§4.8 0x32, §4.9 0x34, §4.17)
SERIAL_ALLOCATORS = frozenset({0x32, 0x34, 0xA2, 0xA4})


def time_fields(message: Message) -> tuple[str, ...]:
    """The names of the message's CP56Time2a fields."""
    return tuple(name for name, kind in message.codec.fields if isinstance(kind, Cp56Time))


class Rewriter:
    """The fresh values of one replay, learned from the backend's replies as they come.

    ``recorded_down``: the recorded backend frames per (pile, type), in order;
    ``pile_map``: recorded pile → fresh pile; ``clock_offset``: the first guess of the
    fresh clock minus the recorded one (replaced by what each 0x56 pair says).
    """

    def __init__(
        self,
        recorded_down: Mapping[tuple[str, int], Sequence[WireFrame]],
        pile_map: Mapping[str, str] | None = None,
        clock_offset: timedelta = timedelta(0),
    ) -> None:
        self._recorded = recorded_down
        self.pile_map = dict(pile_map or {})
        self._back = {new: old for old, new in self.pile_map.items()}
        #: recorded serial → fresh serial
        self.serials: dict[str, str] = {}
        #: the fresh clock minus the recorded clock
        self.clock_offset = clock_offset
        #: the offset came from a 0x56 pair (else it is the guess)
        self.clock_learned = False
        #: the offset each 0x56 pair told, in order
        self.clock_offsets: list[timedelta] = []
        #: (fresh pile, fresh seq) → recorded seq of the pile frames sent
        self.sent_seq: dict[tuple[str, int], int] = {}
        #: (fresh pile, seq) of the heartbeats put back (sent on paper in the recording)
        self.synthetic_seq: set[tuple[str, int]] = set()
        #: recorded serials a reply refused (zero serial in the fresh reply)
        self.refused: list[str] = []
        #: pile frames sent with their recorded body (a fresh value did not fit the wire)
        self.kept: list[str] = []
        self._seq: dict[str, int] = {}
        self._received: dict[tuple[str, int], int] = {}
        self._request_seq: dict[tuple[str, int], int] = {}

    @classmethod
    def for_recording(cls, recorded: Framed, pile_map: Mapping[str, str] | None = None) -> Rewriter:
        """The rewriter of a replay of ``recorded`` (its backend frames per pile and type)."""
        down: dict[tuple[str, int], list[WireFrame]] = {}
        for wf in recorded.frames:
            if wf.direction == "down":
                down.setdefault((wf.pile_no, wf.type), []).append(wf)
        return cls(down, pile_map)

    # -- piles ------------------------------------------------------------------------
    def fresh_pile(self, recorded: str) -> str:
        return self.pile_map.get(recorded, recorded)

    def recorded_pile(self, fresh: str) -> str:
        return self._back.get(fresh, fresh)

    def received_count(self, fresh_pile: str, code: int) -> int:
        return self._received.get((fresh_pile, code), 0)

    # -- learning from the backend's frames ---------------------------------------------
    def received(self, fresh_pile: str, frame: Frame) -> WireFrame | None:
        """A fresh backend frame arrived: count it, learn the serial or clock it tells;
        return its recorded counterpart (the same place: *k*-th of its type on the pile)."""
        code = frame.type
        k = self._received.get((fresh_pile, code), 0)
        self._received[fresh_pile, code] = k + 1
        if code in REPLIES:  # a request the pile may answer with its number (§1.3)
            self._request_seq[fresh_pile, REPLIES[code]] = frame.seq
        recorded = self._recorded.get((self.recorded_pile(fresh_pile), code), ())
        twin = recorded[k] if k < len(recorded) else None
        if twin is None or twin.frame is None:
            return twin
        old, new = twin.frame.message, frame.message
        if code in SERIAL_ALLOCATORS:
            old_serial, new_serial = getattr(old, "serial", ""), getattr(new, "serial", "")
            if old_serial and old_serial != ZERO_SERIAL:
                if new_serial and new_serial != ZERO_SERIAL:
                    self.serials.setdefault(old_serial, new_serial)
                elif old_serial not in self.refused:
                    self.refused.append(old_serial)
        elif (
            isinstance(old, TimeSync)
            and isinstance(new, TimeSync)
            and old.time is not None
            and new.time is not None
        ):
            self.clock_offset = new.time - old.time
            self.clock_learned = True
            self.clock_offsets.append(self.clock_offset)
        return twin

    # -- rewriting the pile's frames ----------------------------------------------------
    def outgoing(self, wf: WireFrame, synthetic: bool = False) -> bytes:
        """The bytes to send for the recorded pile frame ``wf`` (unreadable bytes as
        recorded); ``synthetic``: a heartbeat put back (its replies are not compared)."""
        if wf.frame is None:
            return wf.raw
        pile = self.fresh_pile(wf.pile_no)
        message = self.fresh_message(wf.frame.message)
        echoed = self._request_seq.get((pile, wf.type)) if wf.echo else None
        if echoed is None:
            seq = self._seq[pile] = (self._seq.get(pile, 0) + 1) & 0xFFFF
        else:
            seq = echoed
        if synthetic:
            self.synthetic_seq.add((pile, seq))
        else:
            self.sent_seq[pile, seq] = wf.frame.seq
        try:
            return encode_frame(message, seq)
        except FieldError as exc:  # a shifted time outside CP56Time2a's range
            self.kept.append(f"{wf.pile_no} {wf.label}: recorded body kept ({exc})")
            return encode_frame(wf.frame.message, seq)

    def fresh_message(self, message: Message) -> Message:
        changes: dict[str, Any] = {}
        pile_no = getattr(message, "pile_no", None)
        if pile_no is not None and pile_no in self.pile_map:
            changes["pile_no"] = self.pile_map[pile_no]
        serial = getattr(message, "serial", None)
        if serial is not None and serial in self.serials:
            changes["serial"] = self.serials[serial]
        for name in time_fields(message):
            value: datetime | None = getattr(message, name)
            if value is not None:
                changes[name] = value + self.clock_offset
        return dataclasses.replace(message, **changes) if changes else message  # type: ignore[type-var]

    # -- normalising the fresh backend's frames (for the diff) ----------------------------
    def as_recorded(
        self, message: Message, clock_offset: timedelta | None = None
    ) -> dict[str, Any]:
        """The fields of a fresh backend frame with fresh values mapped back to recorded
        ones (times by ``clock_offset``, default the current offset; times are left out
        when it is ``timedelta.max``)."""
        back_serials = {new: old for old, new in self.serials.items()}
        fields = message.as_dict()
        if "pile_no" in fields:
            fields["pile_no"] = self.recorded_pile(fields["pile_no"])
        if "serial" in fields:
            fields["serial"] = back_serials.get(fields["serial"], fields["serial"])
        offset = self.clock_offset if clock_offset is None else clock_offset
        for name in time_fields(message):
            if offset == timedelta.max:
                del fields[name]
            elif fields[name] is not None:
                fields[name] = fields[name] - offset
        return fields
