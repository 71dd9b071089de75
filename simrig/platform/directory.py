"""The piles the platform serves and their billing models (tariffs): cached, stored."""

from __future__ import annotations

from collections.abc import Collection

from simrig.domain import Tariff, default_tariff
from simrig.fastdata import evolve

from .records import RegisteredPile
from .repository import Repository

__all__ = ["Directory"]


class Directory:
    """Pile records by number (the repository's, cached) and tariffs by model number."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self.piles: dict[str, RegisteredPile] = {p.pile_no: p for p in repo.list_piles()}
        self._tariffs: dict[str, Tariff] = {}

    def put(self, pile: RegisteredPile) -> None:
        """What the platform learnt of a pile (login, offline, its work state)."""
        self.piles[pile.pile_no] = pile
        self._repo.note_pile(pile)

    def mark_all_offline(self) -> None:
        """After a restart no pile is connected yet."""
        for pile in list(self.piles.values()):
            if pile.online:
                self.put(evolve(pile, online=False))

    def reload(self, online: Collection[str]) -> None:
        """Re-read piles and tariffs from the repository (after external edits)."""
        self.piles = {
            p.pile_no: evolve(p, online=p.pile_no in online) for p in self._repo.list_piles()
        }
        self._tariffs.clear()

    def tariff(self, model_no: str) -> Tariff:
        tariff = self._tariffs.get(model_no)
        if tariff is None:
            tariff = self._repo.get_tariff(model_no) or default_tariff()
            self._tariffs[model_no] = tariff
        return tariff

    def pile_tariff(self, pile_no: str) -> Tariff:
        pile = self.piles.get(pile_no)
        return self.tariff(pile.model_no if pile else "0100")
