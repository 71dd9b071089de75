"""The reference platform's control in-process (virtual runs): the core plays the app,
balances change in its repository."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Protocol

from simrig.domain.money import money_from_yuan
from simrig.protocol.ykc import Message

from .base import BaseControl, ControlError

if TYPE_CHECKING:
    from simrig.platform.repository import Repository

__all__ = ["AppRole", "CoreControl"]


class AppRole(Protocol):
    """What the platform core offers an app: start, stop, raw commands."""

    def app_start(
        self,
        pile_no: str,
        gun: int,
        account: str,
        now: float,
        *,
        energy_target: float | None = None,
        amount_target: float | None = None,
        time_target_min: int | None = None,
    ) -> str: ...

    def app_stop(self, pile_no: str, gun: int, now: float) -> None: ...

    def send_command(self, pile_no: str, message: Message, now: float) -> None: ...


class CoreControl(BaseControl):
    """Control of the in-process reference platform (``core``, its ``repo``)."""

    name = "the embedded reference platform"

    def __init__(self, core: AppRole, repo: Repository | None) -> None:
        self.core = core
        self.repo = repo

    def app_start(
        self,
        pile_no: str,
        gun: int,
        account: str,
        now: float,
        *,
        energy_target: float | None = None,
        amount_target: float | None = None,
        time_target_min: int | None = None,
    ) -> str:
        return self.core.app_start(
            pile_no,
            gun,
            account,
            now,
            energy_target=energy_target,
            amount_target=amount_target,
            time_target_min=time_target_min,
        )

    def app_stop(self, pile_no: str, gun: int, now: float) -> None:
        self.core.app_stop(pile_no, gun, now)

    def send_command(self, pile_no: str, message: Message, now: float) -> None:
        self.core.send_command(pile_no, message, now)

    def top_up(self, account: str, yuan: float, now: float) -> None:
        self._change(account, yuan, now, add=True)

    def set_balance(self, account: str, yuan: float, now: float) -> None:
        self._change(account, yuan, now, add=False)

    def _change(self, account: str, yuan: float, now: float, *, add: bool) -> None:
        operation = "top_up" if add else "set_balance"
        if self.repo is None:
            raise ControlError(f"{operation}: no repository")
        found = self.repo.get_account(account)
        if found is None:
            raise ControlError(f"{operation}: unknown account {account}")
        balance = money_from_yuan(yuan) + (found.balance if add else 0)
        self.repo.put_account(dataclasses.replace(found, balance=balance))
        push = getattr(self.core, "push_balance", None)  # as the HTTP API does (0x42)
        if push is not None:
            push(account, now)
