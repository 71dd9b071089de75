"""Provisioning: a scenario's site as ``platform.toml`` gives the reference platform the
same piles, accounts, cards, tariff and rules as registering it in-process."""

from __future__ import annotations

import dataclasses

import pytest

from simrig.control.platform_toml import platform_toml, tariff_to_mapping
from simrig.domain.tariff import default_tariff, tariff_from_mapping
from simrig.platform import MemoryRepository
from simrig.platform.config import parse_config
from simrig.platform.rules import rules_from_mapping
from simrig.scenarios import library_names, load_scenario
from simrig.sim.world import register_site, scenario_tariff, site_from_scenario


@pytest.mark.parametrize("name", library_names())
def test_generated_config_provisions_what_register_site_does(name):
    scenario = load_scenario(name)
    tariff = scenario_tariff(scenario)
    repo = MemoryRepository()
    register_site(scenario, repo, tariff)
    config = parse_config(platform_toml(site_from_scenario(scenario)), source=name)
    assert config.tariffs == (tariff,)
    assert config.piles == tuple(repo.list_piles())
    assert sorted(config.accounts, key=lambda a: a.account_id) == sorted(
        repo.list_accounts(), key=lambda a: a.account_id
    )
    assert sorted(config.cards, key=lambda c: c.physical) == sorted(
        repo.list_cards(), key=lambda c: c.physical
    )
    assert config.rules == rules_from_mapping(scenario.platform)


def test_money_rules_are_written_in_yuan_and_read_back_exactly():
    scenario = load_scenario("basic_card_session")
    rules = {
        "min_start_balance": 12_345,
        "balance_stop_margin": 5_000,
        "fault_reading": "wait_for_bill",
    }
    site = dataclasses.replace(site_from_scenario(scenario), rules=rules)
    text = platform_toml(site)
    assert 'min_start_balance = "1.2345"' in text
    assert parse_config(text).rules == rules_from_mapping(rules)


def test_tariff_mapping_round_trips_exactly():
    tariff = default_tariff()
    assert tariff_from_mapping(tariff_to_mapping(tariff), source="t") == tariff
    capped = dataclasses.replace(
        tariff,
        loss_ratio_pct=7,
        occupancy=dataclasses.replace(tariff.occupancy, cap=123_4567),  # type: ignore[arg-type]
    )
    assert tariff_from_mapping(tariff_to_mapping(capped), source="t") == capped
