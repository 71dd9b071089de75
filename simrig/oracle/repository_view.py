"""The oracle's platform view of the reference platform: read from its repository (the
built-in backend driver; other backends plug in a :class:`PlatformView` of their own)."""

from __future__ import annotations

import contextlib
from typing import Any

from simrig.oracle.views import PlatformBill, PlatformNotification, PlatformSession

__all__ = ["RepositoryView", "ViewSnapshot"]


def _yuan(units: int | None) -> float:
    return 0.0 if units is None else units / 10_000


class RepositoryView:
    """:class:`PlatformView` over the reference platform's repository (built-in driver)."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo

    def bills(self) -> list[PlatformBill]:
        return [
            PlatformBill(
                serial=b.serial,
                pile_no=b.pile_no,
                gun=b.gun,
                start=b.start_time,
                end=b.end_time,
                service_end=b.service_end,
                energy_kwh=_yuan(b.total_energy),
                amount_yuan=_yuan(b.total_amount),
                occupancy_fee_yuan=_yuan(b.occupancy_fee),
                total_charged_yuan=_yuan(b.charged_total),
                received_at=b.received_at,
                illegal=b.illegal,
                balance_after_yuan=None if b.balance_after is None else _yuan(b.balance_after),
            )
            for b in self.repo.list_bills()
        ]

    def sessions(self) -> list[PlatformSession]:
        return [
            PlatformSession(
                serial=s.serial,
                pile_no=s.pile_no,
                gun=s.gun,
                state=str(s.state),
                created_at=s.created_at,
                charge_start=s.started_at,
                charge_end=s.charge_end_at,
                service_end=s.unplugged_at,
                last_energy_kwh=_yuan(s.last_energy),
                close_reason=s.close_reason,
            )
            for s in self.repo.list_sessions()
        ]

    def notifications(self) -> list[PlatformNotification]:
        return [
            PlatformNotification(
                at=n.at,
                kind=str(n.kind),
                pile_no=n.pile_no,
                gun=n.gun or None,
                serial=n.session_key or None,
                text=n.text,
            )
            for n in self.repo.list_notifications()
        ]


class ViewSnapshot:
    """Read a view once (the server is gone after the run), then serve the copies."""

    def __init__(self, view: RepositoryView) -> None:
        self._bills = view.bills()
        self._sessions = view.sessions()
        self._notifications = view.notifications()
        with contextlib.suppress(Exception):
            view.repo.close()

    def bills(self) -> list[PlatformBill]:
        return self._bills

    def sessions(self) -> list[PlatformSession]:
        return self._sessions

    def notifications(self) -> list[PlatformNotification]:
        return self._notifications
