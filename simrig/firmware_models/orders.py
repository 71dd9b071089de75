"""Orders at a gun: card scans (0x31/0x32, protocol-ykc §4.7-4.8), remote start and stop
(0x34/0x33, 0x36/0x35: §4.9-4.11), balance updates (0x42/0x41, §4.17), 0x12 reads
(§4.5), and what plugging and unplugging do to them.

A card scan asks the ``card_scan`` hook, an unplug the ``plug_report`` hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simrig.protocol.ykc import (
    BalanceUpdate,
    BalanceUpdateReply,
    BalanceUpdateResult,
    CardAuthReply,
    CardStart,
    Confirm,
    ReadRealtime,
    RemoteStart,
    RemoteStartFailure,
    RemoteStartReply,
    RemoteStop,
    RemoteStopFailure,
    RemoteStopReply,
    StartMode,
    StopReason,
    TransactionSource,
)

from .bills import BillStore
from .phases import Phase
from .records import PendingRemote
from .routing import Router, on

if TYPE_CHECKING:
    from .hooks import QuirkHooks
    from .image import Image
    from .link_session import LinkSession
    from .realtime import Telemetry
    from .records import GunRecord
    from .sessions import SessionMachine
    from .wire import Wire

__all__ = ["Orders"]

_AUTH_TIMEOUT_S = 30.0


class Orders(Router):
    """Starts and stops asked for at the reader, by the app, or by the cable."""

    def __init__(
        self,
        wire: Wire,
        image: Image,
        hooks: QuirkHooks,
        link: LinkSession,
        sessions: SessionMachine,
        telemetry: Telemetry,
        bills: BillStore,
        guns: list[GunRecord],
    ) -> None:
        self._wire = wire
        self._image = image
        self._hooks = hooks
        self._link = link
        self._sessions = sessions
        self._telemetry = telemetry
        self._bills = bills
        self._guns = guns

    def tick(self, g: GunRecord, now: float) -> None:
        """Expire a stale plug report, an unanswered remote start or card auth."""
        if g.stale_plug_until is not None and now >= g.stale_plug_until:
            g.stale_plug_until = None
        if g.pending_remote is not None and now >= g.pending_remote.deadline:
            self._wire.event(now, "remote_start_expired", g.number, {})
            g.pending_remote = None
        if g.card_pending is not None and now >= g.card_pending[1]:
            self._wire.event(now, "start_refused", g.number, {"why": "auth_timeout"})
            g.card_pending = None

    # ------------------------------------------------------------------ the cable
    def plugged(self, g: GunRecord, now: float) -> None:
        """Gun plugged: release a held bill; a waiting remote start goes ahead."""
        g.stale_plug_until = None
        g.masked_unplug = False
        g.plug_session = None
        alive = self._link.alive()
        if alive:
            self._bills.release_held(g.number, now)
        pr = g.pending_remote
        if pr is not None and alive:
            g.pending_remote = None
            if self._sessions.can_start(g, now) is None:
                self._wire.send(
                    RemoteStartReply(
                        serial=pr.msg.serial,
                        pile_no=self._wire.pile_no,
                        gun=g.number,
                        result=Confirm.OK,
                        failure=RemoteStartFailure.NONE,
                    ),
                    now,
                    seq=pr.seq,
                )
                self._sessions.begin(
                    g,
                    now,
                    serial=pr.msg.serial,
                    source=TransactionSource.APP,
                    card=pr.msg.physical_card,
                    logical_card=pr.msg.logical_card,
                    balance=pr.msg.balance,
                )

    def unplugged(self, g: GunRecord, now: float) -> None:
        """Gun returned: the session ends; the plug report may linger (``plug_report``)."""
        g.masked_unplug = False
        if not self._link.alive():
            return
        if g.session is not None:
            if g.session.phase is Phase.CHARGING:
                self._sessions.stop(g, now, StopReason.ABORT_PILOT_DISCONNECTED, pile_side=True)
            else:
                self._sessions.start_failed(g, now, StopReason.START_PILOT_DISCONNECTED)
        self._hooks.plug_report(g, now)

    # ------------------------------------------------------------------ the reader
    def card_at_reader(self, g: GunRecord, card: str, now: float) -> None:
        """Card at the reader: start (0x31), stop the card's own session, or refuse."""
        if self._hooks.card_scan(g, card, now):
            return
        s = g.session
        if s is not None:
            if s.card.upper() == card.upper() and s.source is TransactionSource.CARD:
                self._sessions.stop(g, now, StopReason.MANUAL_STOP, pile_side=True)
            else:
                self._wire.event(now, "start_refused", g.number, {"why": "gun_busy"})
            return
        why = self._sessions.can_start(g, now)
        if why is None and not self._link.logged_in:
            why = "offline"
        if why is None and not g.plant.plugged(now):
            why = "not_plugged"
        if why is None and g.card_pending is not None:
            why = "auth_in_progress"
        if why is not None:
            self._wire.event(now, "start_refused", g.number, {"why": why})
            return
        self._wire.send(
            CardStart(
                pile_no=self._wire.pile_no,
                gun=g.number,
                start_mode=StartMode.CARD,
                card=card.upper(),
            ),
            now,
        )
        g.card_pending = (card.upper(), now + _AUTH_TIMEOUT_S)

    @on(CardAuthReply)
    def _on_card_auth_reply(self, msg: CardAuthReply, seq: int, now: float) -> None:
        """0x32 platform auth result (§4.8)."""
        if not 1 <= msg.gun <= len(self._guns):
            return
        g = self._guns[msg.gun - 1]
        pending = g.card_pending
        if pending is None:
            return
        g.card_pending = None
        if msg.result != Confirm.OK:
            self._wire.event(now, "start_refused", g.number, {"why": f"auth:{int(msg.failure)}"})
            return
        if self._sessions.can_start(g, now) is not None or not g.plant.plugged(now):
            self._wire.event(now, "start_refused", g.number, {"why": "state_changed"})
            return
        self._sessions.begin(
            g,
            now,
            serial=msg.serial,
            source=TransactionSource.CARD,
            card=pending[0],
            logical_card=msg.logical_card,
            balance=msg.balance,
        )

    # ------------------------------------------------------------------ the app
    @on(RemoteStart)
    def _on_remote_start(self, msg: RemoteStart, seq: int, now: float) -> None:
        """0x34 remote start → 0x33 (§4.9-4.10; a plug within ``remote_start_plug_s``
        sends a second 0x33 with the same seq)."""
        pile_no = self._wire.pile_no

        def reply(result: Confirm, failure: RemoteStartFailure) -> None:
            self._wire.send(
                RemoteStartReply(
                    serial=msg.serial,
                    pile_no=pile_no,
                    gun=msg.gun,
                    result=result,
                    failure=failure,
                ),
                now,
                seq=seq,
            )

        if msg.pile_no != pile_no or not 1 <= msg.gun <= len(self._guns):
            reply(Confirm.FAILED, RemoteStartFailure.PILE_MISMATCH)
            return
        g = self._guns[msg.gun - 1]
        why = self._sessions.can_start(g, now)
        if why == "gun_busy" or g.pending_remote is not None:
            reply(Confirm.FAILED, RemoteStartFailure.GUN_BUSY)
            return
        if why is not None:
            self._wire.event(now, "start_refused", g.number, {"why": why})
            reply(Confirm.FAILED, RemoteStartFailure.EQUIPMENT_FAULT)
            return
        if not g.plant.plugged(now):
            reply(Confirm.FAILED, RemoteStartFailure.GUN_NOT_PLUGGED)
            deadline = now + self._image.timings.remote_start_plug_s
            g.pending_remote = PendingRemote(msg, seq, deadline)
            return
        reply(Confirm.OK, RemoteStartFailure.NONE)
        self._sessions.begin(
            g,
            now,
            serial=msg.serial,
            source=TransactionSource.APP,
            card=msg.physical_card,
            logical_card=msg.logical_card,
            balance=msg.balance,
        )

    @on(RemoteStop)
    def _on_remote_stop(self, msg: RemoteStop, seq: int, now: float) -> None:
        """0x36 remote stop → 0x35 (§4.11). A stop counts for the running session, or
        for the last one while its bill is not built yet (repeated_stop hook)."""
        pile_no = self._wire.pile_no

        def reply(result: Confirm, failure: RemoteStopFailure) -> None:
            self._wire.send(
                RemoteStopReply(pile_no=pile_no, gun=msg.gun, result=result, failure=failure),
                now,
                seq=seq,
            )

        if msg.pile_no != pile_no or not 1 <= msg.gun <= len(self._guns):
            reply(Confirm.FAILED, RemoteStopFailure.PILE_MISMATCH)
            return
        g = self._guns[msg.gun - 1]
        if g.pending_remote is not None:
            g.pending_remote = None
        s = g.session
        if s is not None:
            s.stops += 1
            reply(Confirm.OK, RemoteStopFailure.NONE)
            self._sessions.stop(g, now, StopReason.APP_STOP, pile_side=False)
            return
        last = g.last_session
        if last is not None and BillStore.awaits_upload(last):
            last.stops += 1  # a stop for a session whose bill is not out yet
        reply(Confirm.FAILED, RemoteStopFailure.GUN_NOT_CHARGING)

    @on(BalanceUpdate)
    def _on_balance_update(self, msg: BalanceUpdate, seq: int, now: float) -> None:
        """0x42 remote balance update → 0x41 (§4.17)."""
        result = BalanceUpdateResult.CARD_ERROR
        if 1 <= msg.gun <= len(self._guns):
            s = self._guns[msg.gun - 1].session
            card_ok = msg.physical_card.strip("0") == "" or (
                s is not None and s.card.upper() == msg.physical_card.upper()
            )
            if s is not None and card_ok:
                s.balance = msg.balance
                result = BalanceUpdateResult.OK
        self._wire.send(
            BalanceUpdateReply(
                pile_no=self._wire.pile_no, physical_card=msg.physical_card, result=result
            ),
            now,
            seq,
        )

    @on(ReadRealtime)
    def _on_read_realtime(self, msg: ReadRealtime, seq: int, now: float) -> None:
        """0x12 read realtime data → 0x13 (§4.5)."""
        if 1 <= msg.gun <= len(self._guns):
            self._telemetry.send_realtime(self._guns[msg.gun - 1], now)
