"""Backend deviations and the give-up policy from synthetic captures (pure analysis)."""

from __future__ import annotations

from datetime import datetime, timedelta

from simrig.capture import Chunk
from simrig.endpoint import Event
from simrig.oracle.deviations import backend_deviations
from simrig.oracle.diagnostics import DEAD_BACKEND_ATTEMPTS, GiveUp, backend_status, diagnose
from simrig.protocol.ykc import (
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    ModelVerify,
    ModelVerifyReply,
    RealtimeData,
    encode_frame,
)

PILE = "55031412782305"
T0 = datetime(2019, 10, 29, 10, 0, 0)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def up(s: float, *frames: bytes) -> Chunk:
    return Chunk(at(s), PILE, "up", b"".join(frames))


def down(s: float, *frames: bytes) -> Chunk:
    return Chunk(at(s), PILE, "down", b"".join(frames))


LOGIN = encode_frame(Login(pile_no=PILE), 1)
LOGIN_OK = encode_frame(LoginReply(pile_no=PILE, result=0), 1)


def kinds(chunks):
    return [d.kind for d in backend_deviations(chunks).get(PILE, [])]


def test_a_clean_exchange_has_no_deviation():
    assert kinds([up(0, LOGIN), down(0.1, LOGIN_OK)]) == []


def test_crc_error_and_pile_frame_sent_down_are_deviations():
    bad = bytearray(LOGIN_OK)
    bad[-1] ^= 0xFF
    odd = encode_frame(Heartbeat(pile_no=PILE), 2)  # 0x03 is pile → platform
    assert kinds([up(0, LOGIN), down(0.1, bytes(bad)), down(0.2, odd)]) == ["crc", "direction"]


def test_byte_swapped_sequence_is_named():
    request = encode_frame(Heartbeat(pile_no=PILE), 0x0102)
    reply = encode_frame(HeartbeatReply(pile_no=PILE), 0x0201)
    [dev] = backend_deviations([up(0, request), down(0.1, reply)])[PILE]
    assert dev.kind == "seq_not_echoed" and "byte-swapped" in dev.detail


def test_a_request_unanswered_in_a_partly_answered_write_is_flagged():
    """0x03 and 0x05 in one write: the 0x03 is answered, the 0x05 never is."""
    beat = encode_frame(Heartbeat(pile_no=PILE), 2)
    verify = encode_frame(ModelVerify(pile_no=PILE), 3)
    realtime = encode_frame(RealtimeData(pile_no=PILE), 4)
    beat_reply = encode_frame(HeartbeatReply(pile_no=PILE), 2)
    answer = encode_frame(ModelVerifyReply(pile_no=PILE, model_no="0100", result=1), 3)
    chunks = [up(0, beat, verify), down(0.1, beat_reply), up(80, realtime)]
    assert kinds(chunks) == ["coalesced_write"]
    # both answered, or neither (a write the backend never read): nothing to say
    assert kinds([up(0, beat, verify), down(0.1, beat_reply, answer), up(80, realtime)]) == []
    assert kinds([up(0, beat, verify), up(80, realtime)]) == []


def test_give_up_after_every_pile_failed_twice_and_none_logged_in():
    piles = ["a", "b"]
    policy = GiveUp(piles)
    events = [Event(0.0, "connect_failed", "a"), Event(0.0, "connect_failed", "b")]
    assert policy(events) is None
    events.append(Event(5.0, "connect_failed", "a"))
    assert policy(events) is None  # pile b has failed only once
    events.append(Event(5.2, "login_refused", "b"))
    assert DEAD_BACKEND_ATTEMPTS == 2 and policy(events) is not None
    # one pile that ever logged in keeps the run going
    alive = GiveUp(piles)
    assert alive([Event(0.0, "logged_in", "a"), *events]) is None


def test_status_unreachable_incompatible_ok():
    refused = [
        Event(0.0, "connect_failed", PILE, data={"error": "[Errno 111] Connect call failed"})
    ]
    diag = diagnose([PILE], refused, [])
    assert backend_status(diag) == "unreachable"
    assert "connection refused" in diag[PILE].line()
    connected = [Event(0.0, "connected", PILE), Event(30.0, "login_timeout", PILE)]
    assert backend_status(diagnose([PILE], connected, [])) == "incompatible"
    logged = [Event(0.0, "connected", PILE), Event(0.1, "logged_in", PILE)]
    assert backend_status(diagnose([PILE], logged, [])) == "ok"
