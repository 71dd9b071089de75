"""A scripted third-party YKC backend: its own thread, a real TCP socket on 127.0.0.1.

It is *not* the reference platform: a minimal server that answers what a pile needs
(0x01 → 0x02, 0x03 → 0x04, 0x05 → 0x06 "differs", 0x09 → 0x0A, 0x31 → 0x32, 0x3B → 0x40)
and can be told to break the spec the way field backends do (protocol-ykc §8): an
unknown 0x40 result byte, an out-of-range loss ratio, unechoed sequence numbers, no
reply to a request, non-YKC bytes, a refused login.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from simrig.protocol.ykc import (
    AuthFailure,
    CardAuthReply,
    CardStart,
    Confirm,
    Frame,
    Framer,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    ModelCheck,
    ModelReply,
    ModelRequest,
    ModelVerify,
    ModelVerifyReply,
    RecordAck,
    TransactionRecord,
    encode_frame,
)


@dataclass
class Script:
    """How the foreign backend behaves (defaults: a spec-conformant backend)."""

    ack_result: int = 0  # 0x40 result byte (§4.12: 0x00 OK, 0x01 illegal)
    loss_ratio: int = 0  # 0x0A loss ratio (§5 item 11)
    #: 0x0A rates, yuan/kWh: electricity and service, the same in all four bands
    rate: float = 1.0
    service: float = 0.5
    echo_seq: bool = True  # False: every reply carries seq 0 (S7's habit, §1.3)
    login_ok: bool = True
    ignore: frozenset[int] = frozenset()  # request types left unanswered
    garbage: bytes = b""  # when set: answer every chunk with these bytes, nothing else
    received: list[int] = field(default_factory=list)  # frame types seen


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        script = self.server.script
        framer = Framer(tolerant=True)
        counter = 0
        sock: socket.socket = self.request
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            if script.garbage:
                sock.sendall(script.garbage)
                continue
            out, refused = b"", False
            for item in framer.feed(data):
                if not isinstance(item, Frame):
                    continue
                script.received.append(item.type)
                if item.type in script.ignore:
                    continue
                reply = _reply(item, script, counter)
                counter += 1
                if reply is not None:
                    out += encode_frame(reply, item.seq if script.echo_seq else 0)
                    refused |= isinstance(reply, LoginReply) and not script.login_ok
            if out:
                try:
                    sock.sendall(out)
                except OSError:
                    return
            if refused:
                return  # a refused login: the platform closes the connection (§3 item 1)


def _reply(frame: Frame, script: Script, counter: int):
    msg = frame.message
    if isinstance(msg, Login):
        return LoginReply(pile_no=msg.pile_no, result=0 if script.login_ok else 1)
    if isinstance(msg, Heartbeat):
        return HeartbeatReply(pile_no=msg.pile_no, gun=msg.gun, reply=0)
    if isinstance(msg, ModelVerify):
        return ModelVerifyReply(pile_no=msg.pile_no, model_no="0100", result=ModelCheck.DIFFERS)
    if isinstance(msg, ModelRequest):
        r, s = script.rate, script.service
        return ModelReply(
            pile_no=msg.pile_no,
            model_no="0100",
            sharp_rate=r, sharp_service=s, peak_rate=r, peak_service=s,
            flat_rate=r, flat_service=s, valley_rate=r, valley_service=s,
            loss_ratio=script.loss_ratio,
            periods=(2,) * 48,
        )  # fmt: skip
    if isinstance(msg, CardStart):
        serial = f"{msg.pile_no}{msg.gun:02d}191029100000{counter % 100:02d}"
        return CardAuthReply(
            serial=serial,
            pile_no=msg.pile_no,
            gun=msg.gun,
            logical_card="1000000573",
            balance=100.0,
            result=Confirm.OK,
            failure=AuthFailure.NONE,
        )
    if isinstance(msg, TransactionRecord):
        return RecordAck(serial=msg.serial, result=script.ack_result)
    return None


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script


@contextmanager
def foreign_backend(script: Script | None = None) -> Iterator[tuple[str, Script]]:
    """Serve ``script`` on a free loopback port; yield (``tcp://127.0.0.1:port``, script)."""
    script = script or Script()
    server = _Server(script)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
