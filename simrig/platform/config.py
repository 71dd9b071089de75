"""``platform.toml`` → rules, tariffs, piles, accounts and cards (pure: text in, data out).

::

    [rules]                       # any PlatformRules field; money fields in yuan
    start_confirm_timeout_s = 90
    balance_stop_margin = 0.5
    [tariff]                      # simrig.domain.tariff.tariff_from_mapping
    model_no = "0100"
    ...
    [[piles]]
    pile_no = "32010200000001"
    type = "DC"                   # or "AC"
    guns = 2
    [[accounts]]
    account_id = "app-1"
    balance = 100.0               # yuan
    [[cards]]
    physical = "00000000D14B0A54"
    logical = "0000001000000573"
    account_id = "app-1"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from simrig.domain import Tariff, money_from_yuan, tariff_from_mapping

from .records import Account, Card, RegisteredPile
from .repository import Repository
from .rules import PlatformRules, rules_from_mapping

__all__ = ["MONEY_RULES", "PlatformConfig", "apply_config", "parse_config"]

#: rules given in yuan in the TOML file, stored in 1e-4 yuan
MONEY_RULES = ("min_start_balance", "balance_stop_margin")


@dataclass(frozen=True)
class PlatformConfig:
    rules: PlatformRules = field(default_factory=PlatformRules)
    tariffs: tuple[Tariff, ...] = ()
    piles: tuple[RegisteredPile, ...] = ()
    accounts: tuple[Account, ...] = ()
    cards: tuple[Card, ...] = ()


def _table_list(data: Mapping[str, Any], key: str, source: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ValueError(f"{source}: {key}: expected an array of tables [[{key}]]")
    return value


def _vin(value: object) -> str:
    """A vehicle identification number: 17 characters (ISO 3779)."""
    text = str(value).strip().upper()
    if len(text) != 17 or not text.isalnum() or not text.isascii():
        raise ValueError(f"vins: {value!r} is not a 17-character VIN")
    return text


def parse_config(text: str, *, source: str = "platform.toml") -> PlatformConfig:
    """Parse a platform TOML document; errors are one line naming the file and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{source}: {err}") from None
    known = {"rules", "tariff", "tariffs", "piles", "accounts", "cards"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{source}: unknown section {unknown[0]!r}")
    raw_rules = dict(data.get("rules", {}))
    for key in MONEY_RULES:
        if key in raw_rules:
            raw_rules[key] = money_from_yuan(raw_rules[key])
    rules = rules_from_mapping(raw_rules, source=f"{source}: rules")
    tariffs = []
    if "tariff" in data:
        tariffs.append(tariff_from_mapping(data["tariff"], source=source))
    for i, table in enumerate(_table_list(data, "tariffs", source)):
        tariffs.append(tariff_from_mapping(table, source=source, path=f"tariffs[{i}]"))
    default_model = tariffs[0].model_no if tariffs else "0100"
    piles = []
    for i, p in enumerate(_table_list(data, "piles", source)):
        try:
            pile_no = str(p["pile_no"])
            kind = str(p.get("type", "DC")).upper()
            if len(pile_no) != 14 or not pile_no.isdigit():
                raise ValueError(f"pile_no {pile_no!r} is not 14 digits")
            if kind not in ("DC", "AC"):
                raise ValueError(f"type {kind!r} is not DC or AC")
            piles.append(
                RegisteredPile(
                    pile_no=pile_no,
                    pile_type=kind,
                    guns=int(p.get("guns", 1)),
                    model_no=str(p.get("model_no", default_model)),
                    enabled=bool(p.get("enabled", True)),
                    max_power_kw=float(p.get("max_power_kw", 120.0 if kind == "DC" else 7.0)),
                    station=str(p.get("station", "")),
                )
            )
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(f"{source}: piles[{i}]: {err}") from None
    accounts = []
    for i, a in enumerate(_table_list(data, "accounts", source)):
        try:
            accounts.append(
                Account(
                    account_id=str(a["account_id"]),
                    name=str(a.get("name", "")),
                    balance=money_from_yuan(a.get("balance", 0)),
                    frozen=bool(a.get("frozen", False)),
                    logical_card=str(a.get("logical_card", "0" * 16)).rjust(16, "0"),
                    vins=tuple(_vin(v) for v in a.get("vins", ())),
                )
            )
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(f"{source}: accounts[{i}]: {err}") from None
    cards = []
    for i, c in enumerate(_table_list(data, "cards", source)):
        try:
            cards.append(
                Card(
                    physical=str(c["physical"]).upper().rjust(16, "0"),
                    logical=str(c["logical"]).rjust(16, "0"),
                    account_id=str(c["account_id"]),
                    frozen=bool(c.get("frozen", False)),
                    password_md5=str(c.get("password_md5", "")),
                )
            )
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(f"{source}: cards[{i}]: {err}") from None
    return PlatformConfig(rules, tuple(tariffs), tuple(piles), tuple(accounts), tuple(cards))


def apply_config(repo: Repository, config: PlatformConfig) -> None:
    """Store the configured tariffs, piles, accounts and cards: new ones are added, existing
    ones get the file's *settings*, but never lose their state or history (issue 15 item 5).

    A migration-style, idempotent apply: an existing account keeps its balance (the bills
    that debited it stay, so a restart with ``--config`` must not undo the debits); an
    existing pile keeps what the platform learnt of it (online, firmware, last login).
    Applying the same file twice changes nothing."""
    for tariff in config.tariffs:
        repo.put_tariff(tariff)
    for pile in config.piles:
        old = repo.get_pile(pile.pile_no)
        if old is not None:
            pile = replace(
                old,
                pile_type=pile.pile_type,
                guns=pile.guns,
                model_no=pile.model_no,
                enabled=pile.enabled,
                max_power_kw=pile.max_power_kw,
                station=pile.station,
            )
        if pile != old:
            repo.put_pile(pile)
    for account in config.accounts:
        existing = repo.get_account(account.account_id)
        if existing is not None:
            account = replace(account, balance=existing.balance)
        if account != existing:
            repo.put_account(account)
    for card in config.cards:
        repo.put_card(card)
