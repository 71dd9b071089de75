"""platform.toml parsing: rules (money in yuan), tariff, piles, accounts, cards."""

from __future__ import annotations

import pytest

from simrig.platform import MemoryRepository, PlatformRules, apply_config, parse_config

TOML = """
[rules]
start_confirm_timeout_s = 90
balance_stop_margin = 0.5
fault_reading = "wait_for_bill"
occupancy_service_end = "unplug"

[tariff]
model_no = "0200"
rates = { sharp = [1.2, 0.8], peak = [1.0, 0.8], flat = [0.7, 0.8], valley = [0.35, 0.8] }
periods = ["00:00-12:00=flat", "12:00-24:00=valley"]
occupancy = { free_minutes = 15, rate_per_minute = 0.8 }

[[piles]]
pile_no = "44030400030000"
type = "AC"
guns = 1

[[accounts]]
account_id = "partner-1"
balance = 0.99

[[cards]]
physical = "d14b0a54"
logical = "1000000573"
account_id = "partner-1"
"""


def test_parse_and_apply():
    config = parse_config(TOML)
    assert config.rules == PlatformRules(
        start_confirm_timeout_s=90.0,
        balance_stop_margin=5000,
        fault_reading="wait_for_bill",
        occupancy_service_end="unplug",
    )
    repo = MemoryRepository()
    apply_config(repo, config)
    pile = repo.get_pile("44030400030000")
    assert pile.pile_type == "AC" and pile.model_no == "0200" and pile.max_power_kw == 7.0
    assert repo.get_account("partner-1").balance == 9900
    assert repo.get_card("00000000D14B0A54").logical == "0000001000000573"
    assert repo.get_tariff("0200").occupancy.free_minutes == 15


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules]\nnope = 1\n", "unknown rule 'nope'"),
        ("[rules]\nfault_reading = 'x'\n", "fault_reading: 'x' is not one of"),
        ("[rules]\nclose_on_offline = 1\n", "expected true/false"),
        ("[[piles]]\npile_no = '123'\n", "piles[0]: pile_no '123' is not 14 digits"),
        ("[bogus]\n", "unknown section 'bogus'"),
    ],
)
def test_errors_are_one_line(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        parse_config(text, source="p.toml")
    assert "\n" not in str(err.value) and str(err.value).startswith("p.toml")


def test_config_on_an_existing_database_never_rewrites_balances_or_state():
    """A restart with ``--config``: debits stay, the pile keeps what the platform learnt;
    settings (name, frozen, guns, power) follow the file; a second apply changes nothing."""
    import dataclasses
    from datetime import datetime

    repo = MemoryRepository()
    apply_config(repo, parse_config(TOML))
    account = repo.get_account("partner-1")
    repo.put_account(dataclasses.replace(account, balance=account.balance - 4_000))  # a bill
    seen = datetime(2026, 1, 1, 8, 0)
    pile = repo.get_pile("44030400030000")
    repo.put_pile(dataclasses.replace(pile, firmware="2090104", last_login=seen))
    changed = TOML.replace("guns = 1", "guns = 2").replace(
        'account_id = "partner-1"\nbalance', 'account_id = "partner-1"\nname = "P1"\nbalance'
    )
    apply_config(repo, parse_config(changed))
    after = repo.get_account("partner-1")
    assert after.balance == 9_900 - 4_000 and after.name == "P1"
    pile = repo.get_pile("44030400030000")
    assert pile.guns == 2 and pile.firmware == "2090104" and pile.last_login == seen
    snapshot = (repo.list_accounts(), repo.list_piles(), repo.list_cards())
    apply_config(repo, parse_config(changed))
    assert (repo.list_accounts(), repo.list_piles(), repo.list_cards()) == snapshot
