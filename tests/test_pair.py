"""The real pile and the real platform back to back, with no driver and no link."""

from __future__ import annotations

from simrig.protocol.ykc import Framer, TransactionRecord
from simrig.scenarios import load_scenario

from .pair import paired_site


def _frames(wire, direction):
    framer = Framer(tolerant=True)
    out = []
    for _, way, data in wire:
        if way == direction:
            out += [frame.message for frame in framer.feed(data)]
    return out


def test_card_session_is_billed_and_acknowledged_between_real_endpoints():
    site = paired_site(load_scenario("basic_card_session"))
    site.run()
    [bill] = site.repo.list_bills()
    [sent] = [m for m in _frames(site.pair.wire, "up") if isinstance(m, TransactionRecord)]
    assert bill.serial == sent.serial
    [session] = site.pair.pile.device_sessions()
    assert session.bill_state == "acked"
    assert session.energy_kwh > 5  # ~20 min at up to 60 kW
    assert site.platform.is_online(site.pair.pile.pile_no)


def test_the_pair_logs_in_once_and_stays_online_on_heartbeats():
    site = paired_site(load_scenario("basic_card_session"))
    site.run(until=600.0)
    logins = [e for e in site.pair.events if e.kind == "pile_online"]
    assert len(logins) == 1
    assert site.pair.connected
    assert site.platform.is_online(site.pair.pile.pile_no)


def test_app_start_and_stop_through_the_platform_reach_the_real_pile():
    from simrig.stimuli import Plug, Unplug

    site = paired_site(load_scenario("basic_card_session"))
    pile, platform = site.pair.pile, site.platform
    pile_no = pile.pile_no
    vehicle = site.world.scenario.vehicles[0].spec()
    [account] = [a.account_id for a in site.repo.list_accounts()][:1]
    serials: list[str] = []
    site.pair.advance(
        1800.0,
        [
            (60.0, lambda now: pile.handle_stimulus(Plug(gun=1, vehicle=vehicle), now)),
            (90.0, lambda now: serials.append(platform.app_start(pile_no, 1, account, now))),
            (900.0, lambda now: platform.app_stop(pile_no, 1, now)),
            (960.0, lambda now: pile.handle_stimulus(Unplug(gun=1), now)),
        ],
    )
    [serial] = serials
    [bill] = site.repo.list_bills()
    assert bill.serial == serial
    [session] = pile.device_sessions()
    assert (session.serial, session.source, session.bill_state) == (serial, "app", "acked")
