"""The built-in demo dataset (``simrig platform serve --demo``, issue 3 item 5)."""

from __future__ import annotations

from simrig.domain import default_tariff, money_from_yuan

from .records import Account, Card, RegisteredPile
from .repository import Repository

__all__ = [
    "DEMO_ACCOUNT",
    "DEMO_APP_ACCOUNT",
    "DEMO_CARD",
    "DEMO_LOGICAL",
    "DEMO_PILES",
    "load_demo_dataset",
]

#: pile number → (type, guns)
DEMO_PILES: dict[str, tuple[str, int]] = {
    "32010200000001": ("DC", 2),
    "55031412782305": ("DC", 1),
    "10001001000001": ("AC", 1),
}
DEMO_CARD = "00000000D14B0A54"
DEMO_LOGICAL = "0000001000000573"
DEMO_ACCOUNT = "card-1000000573"
DEMO_APP_ACCOUNT = "app-13800000000"


def load_demo_dataset(repo: Repository) -> None:
    """Piles, the default TOU tariff with its occupancy rule, a card and an app account."""
    tariff = default_tariff()
    repo.put_tariff(tariff)
    for pile_no, (kind, guns) in DEMO_PILES.items():
        if repo.get_pile(pile_no) is None:
            repo.put_pile(
                RegisteredPile(
                    pile_no=pile_no,
                    pile_type=kind,
                    guns=guns,
                    model_no=tariff.model_no,
                    max_power_kw=120.0 if kind == "DC" else 7.0,
                )
            )
    if repo.get_account(DEMO_ACCOUNT) is None:
        repo.put_account(
            Account(
                DEMO_ACCOUNT,
                "demo card holder",
                money_from_yuan("100.00"),
                logical_card=DEMO_LOGICAL,
            )
        )
        repo.put_card(Card(DEMO_CARD, DEMO_LOGICAL, DEMO_ACCOUNT))
    if repo.get_account(DEMO_APP_ACCOUNT) is None:
        repo.put_account(
            Account(
                DEMO_APP_ACCOUNT,
                "demo app user",
                money_from_yuan("100.00"),
                logical_card="0000013800000000",
            )
        )
