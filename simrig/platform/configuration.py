"""The pile's configuration: billing model checks and downloads (0x05/0x06, 0x09/0x0A,
protocol §4.4 and §5) and commands with their replies (0x52/0x51, 0x58/0x57)."""

from __future__ import annotations

from simrig.domain import RATE_SCALE, Tariff
from simrig.fastdata import evolve
from simrig.protocol.ykc import (
    Confirm,
    Frame,
    Message,
    ModelCheck,
    ModelReply,
    ModelRequest,
    ModelVerify,
    ModelVerifyReply,
    SetModelReply,
    WorkParams,
    WorkParamsReply,
    WorkState,
)

from .connections import Conn, Connections
from .directory import Directory
from .errors import PlatformError
from .events import EventSink
from .routing import FrameHandlers, on

__all__ = ["Configuration", "model_message"]


def model_message(tariff: Tariff, pile_no: str, cls: type[ModelReply] = ModelReply) -> ModelReply:
    """The 0x0A (or 0x58 with ``cls=SetModel``) body of ``tariff`` for ``pile_no``."""
    r = [(rate.electricity / RATE_SCALE, rate.service / RATE_SCALE) for rate in tariff.rates]
    return cls(
        pile_no=pile_no,
        model_no=tariff.model_no,
        sharp_rate=r[0][0],
        sharp_service=r[0][1],
        peak_rate=r[1][0],
        peak_service=r[1][1],
        flat_rate=r[2][0],
        flat_service=r[2][1],
        valley_rate=r[3][0],
        valley_service=r[3][1],
        loss_ratio=tariff.loss_ratio_pct,
        periods=tuple(int(b) for b in tariff.periods),
    )


class Configuration(FrameHandlers):
    """Answers the pile's billing-model questions; sends commands and reads their replies."""

    def __init__(self, directory: Directory, connections: Connections, events: EventSink) -> None:
        self._directory = directory
        self._connections = connections
        self._events = events
        self._pending_work: dict[str, WorkState] = {}

    def send_command(self, pile_no: str, message: Message, now: float) -> None:
        """Send a raw downlink frame (Reboot, Upgrade, WorkParams, SetModel, ReadRealtime...)."""
        if not self._connections.is_online(pile_no):
            raise PlatformError(f"pile {pile_no} is offline")
        if isinstance(message, WorkParams):
            self._pending_work[pile_no] = WorkState(message.enable)
        self._connections.send_to_pile(pile_no, message, now)

    @on(ModelVerify)
    def _on_model_verify(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x05 → 0x06: does the pile's model number match ours (protocol §4.4)?"""
        msg = frame.message
        assert isinstance(msg, ModelVerify)
        model_no = self._directory.pile_tariff(msg.pile_no).model_no
        result = ModelCheck.MATCH if msg.model_no == model_no else ModelCheck.DIFFERS
        reply = ModelVerifyReply(pile_no=msg.pile_no, model_no=model_no, result=result)
        self._connections.send(conn, reply, now, frame.seq)

    @on(ModelRequest)
    def _on_model_request(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x09 → 0x0A: the pile's billing model (protocol §4.4, §5)."""
        msg = frame.message
        assert isinstance(msg, ModelRequest)
        reply = model_message(self._directory.pile_tariff(msg.pile_no), msg.pile_no)
        self._connections.send(conn, reply, now, frame.seq)

    @on(SetModelReply, WorkParamsReply)
    def _on_config_reply(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x57 / 0x51 (protocol §2): an accepted 0x52 enables or disables the pile."""
        msg = frame.message
        assert isinstance(msg, SetModelReply | WorkParamsReply)
        ok = msg.result == Confirm.OK
        if isinstance(msg, WorkParamsReply) and ok and msg.pile_no in self._pending_work:
            enable = self._pending_work.pop(msg.pile_no)
            pile = self._directory.piles.get(msg.pile_no)
            if pile is not None:
                self._directory.put(evolve(pile, enabled=enable == WorkState.ALLOWED))
        self._events.emit(now, "command_reply", msg.pile_no, data={"name": msg.NAME, "ok": ok})
