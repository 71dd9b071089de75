"""What a pile cannot do itself: the :class:`BackendControl` interface (pure, no I/O).

A control starts and stops app sessions (with energy / amount / time targets), changes
account balances, sends downlink commands and provisions the site (piles, accounts,
cards, tariff, ``[platform]`` rules) on a backend. Implementations: the reference
platform in-process (:mod:`simrig.control.reference`) or over HTTP
(:mod:`simrig.control.http`), a declarative HTTP template (:mod:`simrig.control.template`)
and any ``module:callable`` (:func:`simrig.control.load_control`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from simrig.domain.tariff import Tariff
from simrig.errors import BackendError
from simrig.protocol.ykc import Message

__all__ = [
    "OPERATIONS",
    "PROVISIONING",
    "BackendControl",
    "BaseControl",
    "ControlError",
    "ControlUnreachable",
    "NoControl",
    "Site",
    "SitePile",
    "SiteUser",
    "UnsupportedOperation",
    "require_operations",
]

#: every operation a control may offer (the method names)
OPERATIONS = (
    "app_start",
    "app_stop",
    "send_command",
    "top_up",
    "set_balance",
    "register_pile",
    "register_account",
    "register_card",
    "set_tariff",
    "set_rules",
)
#: the operations :meth:`BackendControl.provision` uses
PROVISIONING = ("register_pile", "register_account", "register_card", "set_tariff", "set_rules")


class ControlError(BackendError):
    """The backend refused or failed a control request (one-line reason)."""


class ControlUnreachable(ControlError):
    """The backend's control API could not be reached at all (exit 3, not bad input)."""


class UnsupportedOperation(ControlError):
    """The control does not offer this operation (one line naming it and the control)."""


@dataclass(frozen=True)
class SitePile:
    pile_no: str
    kind: str  #: "DC" or "AC"
    guns: int
    max_power_kw: float
    model_no: str  #: the billing model (tariff) of the pile


@dataclass(frozen=True)
class SiteUser:
    name: str
    account: str  #: account id (the name unless the scenario gives one)
    balance_yuan: float
    logical_card: str  #: 16 digits
    card: str | None  #: physical card, 16 upper-case hex digits, or None


@dataclass(frozen=True)
class Site:
    """A scenario's site as a backend must know it before the piles log in."""

    piles: tuple[SitePile, ...]
    users: tuple[SiteUser, ...]
    tariff: Tariff
    #: the scenario's ``[platform]`` rules (PlatformRules fields and units)
    rules: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class BackendControl(Protocol):
    """The control of a backend: app role, balances, commands and provisioning."""

    def supports(self, operation: str) -> bool:
        """Whether ``operation`` (one of :data:`OPERATIONS`) is offered."""
        ...

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
        """Start an app session; targets in kWh, yuan, minutes. Returns the order id."""
        ...

    def app_stop(self, pile_no: str, gun: int, now: float) -> None: ...

    def send_command(self, pile_no: str, message: Message, now: float) -> None: ...

    def top_up(self, account: str, yuan: float, now: float) -> None:
        """Add ``yuan`` to the account's balance."""
        ...

    def set_balance(self, account: str, yuan: float, now: float) -> None:
        """Set the account's balance to ``yuan``."""
        ...

    def provision(self, site: Site) -> None:
        """Register the site's piles, accounts, cards, tariff and rules."""
        ...


class BaseControl:
    """A convenient base: every operation refused until a subclass defines it.

    :meth:`supports` is true for the operations a subclass overrides;
    :meth:`provision` calls the ``register_*`` / ``set_*`` operations it has (the others
    are taken as provisioned by hand) but refuses rules it cannot set.
    """

    #: named in refusals ("... not offered by NAME")
    name = "this backend control"

    def supports(self, operation: str) -> bool:
        own = getattr(type(self), operation, None)
        return own is not None and own is not getattr(BaseControl, operation, None)

    def refusal(self, operation: str) -> UnsupportedOperation:
        """The one-line error refusing ``operation``."""
        return UnsupportedOperation(f"{operation}: not offered by {self.name}")

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
        raise self.refusal("app_start")

    def app_stop(self, pile_no: str, gun: int, now: float) -> None:
        raise self.refusal("app_stop")

    def send_command(self, pile_no: str, message: Message, now: float) -> None:
        raise self.refusal("send_command")

    def top_up(self, account: str, yuan: float, now: float) -> None:
        raise self.refusal("top_up")

    def set_balance(self, account: str, yuan: float, now: float) -> None:
        raise self.refusal("set_balance")

    def register_pile(self, pile: SitePile) -> None:
        raise self.refusal("register_pile")

    def register_account(self, user: SiteUser) -> None:
        raise self.refusal("register_account")

    def register_card(self, user: SiteUser) -> None:
        raise self.refusal("register_card")

    def set_tariff(self, tariff: Tariff) -> None:
        raise self.refusal("set_tariff")

    def set_rules(self, rules: Mapping[str, Any]) -> None:
        raise self.refusal("set_rules")

    def provision(self, site: Site) -> None:
        if site.rules and not self.supports("set_rules"):
            keys = ", ".join(sorted(site.rules))
            raise UnsupportedOperation(
                f"set_rules: the scenario sets [platform] rules ({keys}), not offered by "
                f"{self.name}"
            )
        if self.supports("set_tariff"):
            self.set_tariff(site.tariff)
        if site.rules:
            self.set_rules(site.rules)
        if self.supports("register_pile"):
            for pile in site.piles:
                self.register_pile(pile)
        if self.supports("register_account"):
            for user in site.users:
                self.register_account(user)
        if self.supports("register_card"):
            for user in site.users:
                if user.card:
                    self.register_card(user)


class NoControl(BaseControl):
    """For a plain ``tcp://`` backend: only pile-side steps run; provisioning is by hand."""

    name = "a plain tcp:// backend (give --backend-control)"


def require_operations(control: BackendControl, operations: Iterable[str]) -> None:
    """Refuse (one line) the first operation in ``operations`` the control lacks."""
    for operation in operations:
        if not control.supports(operation):
            if isinstance(control, BaseControl):
                raise control.refusal(operation)
            name = getattr(control, "name", type(control).__name__)
            raise UnsupportedOperation(f"{operation}: not offered by {name}")
