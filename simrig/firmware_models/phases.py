"""The two state machines of a pile, written as tables a script can draw (h11 style).

A session on a gun moves through :class:`Phase`; a bill through :class:`BillState`.
Values are the strings the model always used, so events and comparisons are unchanged.
``advance`` / ``move`` refuse a transition the table does not list.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import BillRecord, SessionRecord

__all__ = ["BILL_TRANSITIONS", "TRANSITIONS", "BillState", "Phase", "advance", "move"]


class Phase(StrEnum):
    """Where a session on a gun stands (protocol-ykc §3 items 4-7)."""

    AUTHORISED = "authorised"  # order accepted, not yet preparing or in handshake
    PREPARING = "preparing"  # preparing_before_ready: plug hidden (zpd_case#20)
    READY = "ready"
    HANDSHAKE = "handshake"  # BMS handshake with the vehicle
    CHARGING = "charging"  # contactor closed
    ENDED = "ended"


TRANSITIONS: dict[Phase, tuple[Phase, ...]] = {
    Phase.AUTHORISED: (Phase.PREPARING, Phase.HANDSHAKE),
    Phase.PREPARING: (Phase.READY, Phase.ENDED),
    Phase.READY: (Phase.HANDSHAKE, Phase.ENDED),
    Phase.HANDSHAKE: (Phase.CHARGING, Phase.ENDED),
    Phase.CHARGING: (Phase.ENDED,),
    Phase.ENDED: (),
}
"""Session phase → the phases it may move to."""


class BillState(StrEnum):
    """Where a session's bill (0x3B) stands in the pile's storage (§3 item 7)."""

    HELD = "held"  # bill_at_unplug: waits for the gun to be reported unplugged
    SCHEDULED = "scheduled"  # due at ``due_at``
    STORED = "stored"  # built, in non-volatile storage, not on the wire
    SENT = "sent"  # on the wire, waiting for 0x40
    ACKED = "acked"
    DROPPED = "dropped"


BILL_TRANSITIONS: dict[BillState, tuple[BillState, ...]] = {
    BillState.HELD: (BillState.SCHEDULED, BillState.DROPPED),
    BillState.SCHEDULED: (BillState.STORED, BillState.DROPPED),
    BillState.STORED: (BillState.SENT, BillState.ACKED, BillState.DROPPED),
    BillState.SENT: (BillState.SENT, BillState.STORED, BillState.ACKED, BillState.DROPPED),
    BillState.ACKED: (),
    BillState.DROPPED: (),
}
"""Bill state → the states it may move to (SENT → SENT: a retry)."""


def advance(s: SessionRecord, to: Phase) -> None:
    """Move session ``s`` to phase ``to`` (ValueError if the table forbids it)."""
    if to not in TRANSITIONS[s.phase]:
        raise ValueError(f"session {s.serial}: phase {s.phase} cannot go to {to}")
    s.phase = to


def move(bill: BillRecord, to: BillState) -> None:
    """Move ``bill`` to state ``to`` (ValueError if the table forbids it)."""
    if to not in BILL_TRANSITIONS[bill.state]:
        raise ValueError(f"bill {bill.session.serial}: {bill.state} cannot go to {to}")
    bill.state = to
