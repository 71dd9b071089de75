"""Pile identity (issue 15 item 2) and per-frame error handling (item 1), sans-IO."""

from __future__ import annotations

from datetime import timedelta

from simrig.platform import PlatformRules
from simrig.protocol.ykc import (
    AckResult,
    HeartbeatReply,
    LoginReply,
    LoginResult,
    RecordAck,
)

from .helpers import EPOCH, PlatformRig, ScriptedPile

OTHER = "55031412782305"  # another demo pile


def _events(rig: PlatformRig, kind: str) -> list:
    return [e for e in rig.core.events() if e.kind == kind]


def test_frames_for_another_pile_are_refused_and_counted() -> None:
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    intruder = ScriptedPile(OTHER)
    assert rig.send(intruder.heartbeat(), 1.0) == []
    assert rig.send(intruder.card_start(), 2.0) == []  # no session on the other pile
    assert rig.repo.list_sessions() == []
    assert [e.data["claimed"] for e in _events(rig, "pile_mismatch")] == [OTHER, OTHER]
    assert rig.core.stats["pile_mismatches"] == 2
    assert [type(m) for m in rig.send(rig.pile.heartbeat(), 3.0)] == [HeartbeatReply]


def test_a_bill_of_another_piles_order_is_never_charged() -> None:
    """Pile A's connection cannot get pile B's order charged (nor A's own pile number on
    B's serial): the bill is refused as illegal and no account moves."""
    rig = PlatformRig()
    other = PlatformRig(pile_no=OTHER)
    other.repo, other.core = rig.repo, rig.core
    other.cid = 2
    rig.core.connection_made(2, 0.0, "b")
    serial_b = other.card_session(now=5.0)
    rig.send(rig.pile.login(), 6.0)
    before = {a.account_id: a.balance for a in rig.repo.list_accounts()}
    at = EPOCH + timedelta(seconds=10)
    # B's order, billed on A's connection with B's pile number: a mismatch, refused
    [ack] = rig.send(ScriptedPile(OTHER).bill(serial_b, at, at, 5.0), 10.0)
    assert isinstance(ack, RecordAck) and ack.result == AckResult.ILLEGAL
    # B's order, billed with A's own pile number: not A's order, illegal
    [ack] = rig.send(rig.pile.bill(serial_b, at, at, 5.0), 11.0)
    assert isinstance(ack, RecordAck) and ack.result == AckResult.ILLEGAL
    assert {a.account_id: a.balance for a in rig.repo.list_accounts()} == before


def test_relogin_replaces_the_old_connection_at_once() -> None:
    """A pile back from an outage logs in on a new connection before the platform saw the
    old one die: it is served at once; the old connection is closed and its late loss
    does not take the pile offline."""
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    rig.core.connection_made(2, 5.0, "again")
    rig.core.receive_data(2, rig.pile.login(), 5.0)
    [reply, *_] = rig.pile.decode(rig.core.data_to_send(2))
    assert isinstance(reply, LoginReply) and reply.result == LoginResult.OK
    assert rig.core.should_close(1)
    rig.core.connection_lost(1, 6.0)
    assert rig.core.is_online(rig.pile.pile_no)
    rig.core.receive_data(2, rig.pile.heartbeat(), 7.0)
    assert [type(m) for m in rig.pile.decode(rig.core.data_to_send(2))] == [HeartbeatReply]


def test_a_second_login_as_another_pile_is_refused() -> None:
    rig = PlatformRig()
    rig.send(rig.pile.login(), 0.0)
    assert rig.send(ScriptedPile(OTHER).login(), 1.0) == []
    assert not rig.core.is_online(OTHER)
    assert rig.core.stats["pile_mismatches"] == 1


def test_unknown_pile_is_refused() -> None:
    rig = PlatformRig(pile_no="99999999999999")
    [reply] = rig.send(rig.pile.login(), 0.0)
    assert isinstance(reply, LoginReply) and reply.result == LoginResult.FAILED
    assert rig.core.should_close(rig.cid)


def test_a_handler_error_is_caught_counted_and_a_bill_still_answered() -> None:
    """Storage failing under a bill: the connection lives, the error is counted against
    the budget, and the bill is explicitly refused (not left unanswered)."""
    rig = PlatformRig(PlatformRules(malformed_frame_budget=1))
    serial = rig.card_session()

    def broken(*args: object) -> None:
        raise OSError("disk full")

    rig.repo.settle_bill = broken  # type: ignore[method-assign]
    at = EPOCH + timedelta(seconds=20)
    [ack] = rig.send(rig.pile.bill(serial, at, at, 2.0), 20.0)
    assert isinstance(ack, RecordAck) and ack.serial == serial
    assert ack.result == AckResult.ILLEGAL
    assert rig.core.stats["frame_errors"] == 1 and not rig.core.should_close(rig.cid)
    [error] = _events(rig, "frame_error")
    assert "disk full" in error.data["detail"]
    rig.send(rig.pile.bill(serial, at, at, 2.0), 21.0)  # the second error is over budget
    assert rig.core.should_close(rig.cid)
