"""Balance push: 0x42 to the pile running an account's order when its balance changes
(a top-up, a correction), and its reply 0x41 (protocol §4.17; issue 15 item 7)."""

from __future__ import annotations

from simrig.protocol.ykc import BalanceUpdate, BalanceUpdateReply, BalanceUpdateResult, Frame

from .connections import Conn, Connections
from .events import EventSink
from .repository import Repository
from .routing import FrameHandlers, on
from .rules import PlatformRules
from .sessions import SessionBook

__all__ = ["BalancePush"]

_ZERO_CARD = "0" * 16


class BalancePush(FrameHandlers):
    """Tells the piles charging for an account its new balance."""

    def __init__(
        self,
        repo: Repository,
        rules: PlatformRules,
        book: SessionBook,
        connections: Connections,
        events: EventSink,
    ) -> None:
        self._repo = repo
        self.rules = rules
        self._book = book
        self._connections = connections
        self._events = events

    def push(self, account_id: str, now: float) -> int:
        """0x42 for each open order of the account on an online pile (the card of a card
        order, zero for the current user otherwise, §4.17), if ``rules.balance_push``;
        how many were sent."""
        account = self._repo.get_account(account_id)
        if account is None or not self.rules.balance_push:
            return 0
        sent = 0
        for session in self._book.open_of(account_id):
            if not self._connections.is_online(session.pile_no):
                continue
            update = BalanceUpdate(
                pile_no=session.pile_no,
                gun=session.gun,
                physical_card=session.card or _ZERO_CARD,
                balance=max(0, account.balance // 100) / 100,
            )
            self._connections.send_to_pile(session.pile_no, update, now)
            sent += 1
        return sent

    @on(BalanceUpdateReply)
    def _on_reply(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x41 (protocol §4.17): the pile took the new balance, or names what was wrong."""
        msg = frame.message
        assert isinstance(msg, BalanceUpdateReply)
        try:
            result = BalanceUpdateResult(msg.result).name.lower()
        except ValueError:  # a value the spec does not define (tolerant decoding)
            result = f"0x{int(msg.result):02X}"
        self._events.emit(
            now,
            "balance_update_reply",
            msg.pile_no,
            data={"card": msg.physical_card, "result": result},
        )
