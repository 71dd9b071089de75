"""Build a runnable world from a scenario: plant, pile firmware, links, platform, actions.

The same :class:`World` runs under the virtual driver (simpy, in-process platform) and
the real-time driver (asyncio TCP against a backend). Randomness is derived from the
scenario seed per pile (``random.Random(f"{seed}:{pile_no}")``), so a run is the same
byte for byte whatever else the scenario contains.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from simrig import stimuli
from simrig.control.base import BackendControl, NoControl, Site, SitePile, SiteUser
from simrig.control.reference import AppRole, CoreControl
from simrig.domain import Tariff, default_tariff, money_from_yuan, tariff_from_mapping
from simrig.endpoint import ServerEndpoint
from simrig.firmware_models import PileFirmware, load_profile
from simrig.firmware_models.profile import FirmwareProfile, ProfileError, with_overrides
from simrig.link import Link
from simrig.plant import PileSpec, Plant
from simrig.protocol.ykc import (
    Execution,
    Message,
    Reboot,
    Upgrade,
    UpgradePileModel,
    WorkParams,
    WorkState,
)
from simrig.scenarios.schema import NetworkDef, PileDef, Scenario, Step

if TYPE_CHECKING:
    from simrig.platform.repository import Repository

Action = Callable[[float], None]


#: the old name of :class:`~simrig.control.BackendControl` (imports keep working)
AppBackend = BackendControl
#: the old name of :class:`~simrig.control.NoControl`
NoAppBackend = NoControl


class EmbeddedPlatform(ServerEndpoint, AppRole, Protocol):
    """The reference platform in-process: a server endpoint that also plays the app."""


@dataclass
class World:
    scenario: Scenario
    epoch: datetime
    plant: Plant
    piles: dict[str, PileFirmware]
    links: dict[str, Link]
    tariff: Tariff
    #: the backend control the app, balance and command steps go through
    app: BackendControl
    #: the embedded reference platform (virtual runs), else None
    core: EmbeddedPlatform | None = None
    repo: Repository | None = None
    #: (time, pile number, action): every action touches only its own pile
    actions: list[tuple[float, str, Action]] = field(default_factory=list)
    #: per pile, the times of the actions aimed at it (each touches only its pile)
    pile_action_times: dict[str, list[float]] = field(default_factory=dict)
    clean_links: set[str] = field(default_factory=set)

    def wall(self, t: float) -> datetime:
        return self.epoch + timedelta(seconds=t)

    def link_is_clean(self, pile_no: str) -> bool:
        return pile_no in self.clean_links


def scenario_tariff(scenario: Scenario) -> Tariff:
    if scenario.tariff is None:
        return default_tariff()
    return tariff_from_mapping(scenario.tariff, source=scenario.meta.name)


def build_world(
    scenario: Scenario,
    *,
    app: BackendControl | None = None,
    core: EmbeddedPlatform | None = None,
    repo: Repository | None = None,
    profile_dirs: tuple[Path, ...] = (),
    epoch: datetime | None = None,
) -> World:
    """Assemble the world around an embedded platform ``core`` (register the site in its
    repository first: :func:`register_site`) or the ``app`` control of an external backend
    (provision it with :func:`site_from_scenario`).

    ``epoch``: the backend's wall time at scenario t=0 (the run's
    :class:`~simrig.sim.time_mapping.TimeMapping`; default the scenario epoch). Truth
    (:meth:`World.wall`) and every pile's clock start there."""
    meta = scenario.meta
    start = meta.epoch if epoch is None else epoch
    tariff = scenario_tariff(scenario)
    plant = Plant()
    piles: dict[str, PileFirmware] = {}
    links: dict[str, Link] = {}
    clean: set[str] = set()
    for pile_def in scenario.piles:
        profile = pile_profile(pile_def, profile_dirs)
        guns = pile_def.guns or profile.guns
        spec = PileSpec(
            kind=profile.kind,  # type: ignore[arg-type]
            guns=guns,
            max_power_kw=pile_def.max_power_kw or profile.max_power_kw,
        )
        plant_pile = plant.add_pile(
            pile_def.pile_no,
            spec,
            meter_start_kwh=pile_def.meter_start_kwh,
            meter_factor=pile_def.meter_factor,
        )
        piles[pile_def.pile_no] = PileFirmware(
            pile_no=pile_def.pile_no,
            profile=profile,
            plant_pile=plant_pile,
            rng=random.Random(f"{meta.seed}:{pile_def.pile_no}"),
            epoch=start + timedelta(seconds=pile_def.clock_offset_s),
        )
        net = _network_for(scenario, pile_def.pile_no)
        links[pile_def.pile_no] = net.link(
            random.Random(f"{meta.seed}:{pile_def.pile_no}:up"),
            random.Random(f"{meta.seed}:{pile_def.pile_no}:down"),
        )
        # frame faults change the link as frames pass: no heartbeats on paper, no elision
        if net.clean:
            clean.add(pile_def.pile_no)
    world = World(
        scenario=scenario,
        epoch=start,
        plant=plant,
        piles=piles,
        links=links,
        tariff=tariff,
        app=app or (CoreControl(core, repo) if core is not None else NoControl()),
        core=core,
        repo=repo,
        clean_links=clean,
    )
    for step in scenario.timeline:
        steps = _actions(world, step)
        world.actions += [(t, step.pile, action) for t, action in steps]
        world.pile_action_times.setdefault(step.pile, []).extend(t for t, _ in steps)
    world.actions.sort(key=lambda item: item[0])
    for times in world.pile_action_times.values():
        times.sort()
    return world


def pile_profile(pile_def: PileDef, profile_dirs: tuple[Path, ...] = ()) -> FirmwareProfile:
    """The pile's firmware profile with the scenario's quirk overrides applied."""
    profile = load_profile(pile_def.profile, profile_dirs)
    try:
        return with_overrides(profile, pile_def.quirks, pile_def.disable_quirks)
    except ValueError as exc:
        raise ProfileError(f"piles[{pile_def.pile_no}].{exc}") from None


def _network_for(scenario: Scenario, pile_no: str) -> NetworkDef:
    chosen = NetworkDef()
    for net in scenario.network:
        if (net.pile is None and chosen.pile is None) or net.pile == pile_no:
            chosen = net
    return chosen


def site_from_scenario(
    scenario: Scenario, tariff: Tariff | None = None, profile_dirs: tuple[Path, ...] = ()
) -> Site:
    """The piles, users, tariff and rules a backend must know before the piles log in."""
    tariff = tariff or scenario_tariff(scenario)
    piles = []
    for pile_def in scenario.piles:
        profile = pile_profile(pile_def, profile_dirs)
        piles.append(
            SitePile(
                pile_no=pile_def.pile_no,
                kind=profile.kind,
                guns=pile_def.guns or profile.guns,
                max_power_kw=pile_def.max_power_kw or profile.max_power_kw,
                model_no=tariff.model_no,
            )
        )
    users = tuple(
        SiteUser(
            name=user.name,
            account=user.account or user.name,
            balance_yuan=user.balance,
            logical_card=(user.logical_card or "").rjust(16, "0"),
            card=user.card.upper() if user.card else None,
        )
        for user in scenario.users
    )
    return Site(tuple(piles), users, tariff, dict(scenario.platform))


def register_site(
    scenario: Scenario, repo: Repository, tariff: Tariff, profile_dirs: tuple[Path, ...] = ()
) -> None:
    """Register the scenario's piles, guns, users and tariff in the in-process reference
    platform's repository (virtual runs; a separate process gets a ``platform.toml``)."""
    from simrig.platform.records import Account, Card, RegisteredGun, RegisteredPile

    site = site_from_scenario(scenario, tariff, profile_dirs)
    repo.put_tariff(tariff)
    for pile in site.piles:
        repo.put_pile(
            RegisteredPile(
                pile_no=pile.pile_no,
                pile_type=pile.kind,
                guns=pile.guns,
                model_no=pile.model_no,
                max_power_kw=pile.max_power_kw,
            )
        )
        for gun in range(1, pile.guns + 1):
            repo.put_gun(RegisteredGun(pile.pile_no, gun))
    for user in site.users:
        repo.put_account(
            Account(
                account_id=user.account,
                name=user.name,
                balance=money_from_yuan(user.balance_yuan),
                logical_card=user.logical_card,
            )
        )
        if user.card:
            repo.put_card(
                Card(physical=user.card, logical=user.logical_card, account_id=user.account)
            )


#: the control operation each timeline action needs
STEP_OPERATIONS = {
    "app_start": "app_start",
    "app_stop": "app_stop",
    "top_up": "top_up",
    "set_balance": "set_balance",
    "remote_reboot": "send_command",
    "upgrade": "send_command",
    "disable": "send_command",
    "enable": "send_command",
}


def required_operations(scenario: Scenario) -> list[str]:
    """The control operations the scenario's timeline needs, in first-use order."""
    needed = [STEP_OPERATIONS[s.do] for s in scenario.timeline if s.do in STEP_OPERATIONS]
    return list(dict.fromkeys(needed))


def _actions(world: World, step: Step) -> list[tuple[float, Action]]:
    """The timed callables of one timeline step."""
    scenario = world.scenario
    pile = world.piles[step.pile]
    app = world.app
    pile_no, gun = step.pile, step.gun

    def stim(stimulus: stimuli.Stimulus) -> list[tuple[float, Action]]:
        return [(step.at, lambda now: pile.handle_stimulus(stimulus, now))]

    match step.do:
        case "plug":
            return stim(stimuli.Plug(gun, scenario.vehicle(step.vehicle or "").spec()))
        case "unplug":
            return stim(stimuli.Unplug(gun))
        case "card":
            return stim(stimuli.CardScan(gun, (scenario.user(step.user or "").card or "").upper()))
        case "stop_button":
            return stim(stimuli.StopButton(gun))
        case "charging_fault":
            return stim(stimuli.ChargingFault(gun))
        case "bms_stop":
            return stim(stimuli.BmsStop(gun))
        case "emergency_stop":
            return stim(stimuli.EmergencyStop(True))
        case "emergency_release":
            return stim(stimuli.EmergencyStop(False))
        case "power_cut":
            return stim(stimuli.PowerCut())
        case "power_restore":
            return stim(stimuli.PowerRestore())
        case "reboot":
            return stim(stimuli.LocalReboot())
        case "app_start":
            user = scenario.user(step.user or "")
            account = user.account or user.name
            energy, amount, minutes = (
                step.energy_target_kwh,
                step.amount_target_yuan,
                step.time_target_min,
            )

            def start(now: float) -> None:
                app.app_start(
                    pile_no,
                    gun,
                    account,
                    now,
                    energy_target=energy,
                    amount_target=amount,
                    time_target_min=minutes,
                )

            return [(step.at, start)]
        case "top_up" | "set_balance":
            user = scenario.user(step.user or "")
            account = user.account or user.name
            yuan = float(step.yuan or 0.0)
            change = app.top_up if step.do == "top_up" else app.set_balance
            return [(step.at, lambda now: change(account, yuan, now))]
        case "app_stop":
            return [
                (step.at + i * step.every, lambda now: app.app_stop(pile_no, gun, now))
                for i in range(step.repeat)
            ]
        case "remote_reboot":
            msg: Message = Reboot(pile_no=pile_no, execution=Execution.IMMEDIATELY)
        case "upgrade":
            model = UpgradePileModel.AC if pile.firmware.kind == "AC" else UpgradePileModel.DC
            msg = Upgrade(
                pile_no=pile_no,
                pile_model=model,
                pile_power=int(pile.firmware.max_power_kw),
                server="127.0.0.1",
                port=21,
                user="simrig",
                password="simrig",
                path=step.target or "",
                execution=Execution.WHEN_IDLE,
                timeout_minutes=10,
            )
        case "disable":
            msg = WorkParams(pile_no=pile_no, enable=WorkState.DISABLED, max_power_pct=100)
        case "enable":
            msg = WorkParams(pile_no=pile_no, enable=WorkState.ALLOWED, max_power_pct=100)
        case _:  # pragma: no cover - the schema's Literal forbids it
            raise ValueError(step.do)
    return [(step.at, lambda now: app.send_command(pile_no, msg, now))]
