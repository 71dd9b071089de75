"""Two real endpoints back to back, no I/O (h11's ``ConnectionPair``; issue 10 item 7).

A real pile firmware (:class:`~simrig.endpoint.PileEndpoint`) and the real reference
platform (:class:`~simrig.endpoint.ServerEndpoint`) exchange bytes through a perfect,
zero-latency pipe. The pump is the one every driver runs, written out plainly: feed,
drain ``data_to_send()`` to the peer, drain events, take the earliest timer. No simpy, no
link model, no elision — so a test of pile/platform behaviour needs no hand-scripted peer.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from simrig.endpoint import Event, PileEndpoint, ServerEndpoint
from simrig.platform import MemoryRepository, PlatformCore
from simrig.scenarios import Scenario
from simrig.sim.world import World, build_world, register_site, scenario_tariff

#: a pump that keeps moving at one instant this often is a model bug
MAX_ROUNDS = 10_000


@dataclass
class EndpointPair:
    """One pile and the platform, connected whenever the pile wants a connection."""

    pile: PileEndpoint
    platform: ServerEndpoint
    conn_id: int = 1
    connected: bool = False
    #: (t, "up" | "down", bytes): everything that crossed the pipe
    wire: list[tuple[float, str, bytes]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    now: float = 0.0

    def settle(self) -> None:
        """Exchange bytes at ``now`` until neither side has anything more to say."""
        for _ in range(MAX_ROUNDS):
            moved = False
            if not self.connected and self.pile.wants_connection:
                self.connected = True
                self.platform.connection_made(self.conn_id, self.now, peer=self.pile.pile_no)
                self.pile.connection_made(self.now)
                moved = True
            if up := self.pile.data_to_send():
                self.wire.append((self.now, "up", up))
                if self.connected:
                    self.platform.receive_data(self.conn_id, up, self.now)
                moved = True
            if self.connected and (down := self.platform.data_to_send(self.conn_id)):
                self.wire.append((self.now, "down", down))
                self.pile.receive_data(down, self.now)
                moved = True
            if self.connected and (
                self.pile.close_requested or self.platform.should_close(self.conn_id)
            ):
                self.connected = False
                self.platform.connection_lost(self.conn_id, self.now)
                self.pile.connection_lost(self.now)
                self.conn_id += 1
                moved = True
            for endpoint in (self.pile, self.platform):
                while (event := endpoint.next_event()) is not None:
                    self.events.append(event)
            if not moved:
                return
        raise RuntimeError(f"pair still busy after {MAX_ROUNDS} rounds at t={self.now}")

    def next_deadline(self) -> float | None:
        timers = [t for t in (self.pile.get_timer(), self.platform.get_timer()) if t is not None]
        return min(timers) if timers else None

    def advance(self, until: float, actions: list[tuple[float, Callable[[float], None]]]) -> None:
        """Run timers and the timed ``actions`` (pile first at one instant) up to ``until``."""
        order = itertools.count()
        agenda = [(t, next(order), fn) for t, fn in actions]
        heapq.heapify(agenda)
        self.settle()
        while True:
            deadline = self.next_deadline()
            t_action = agenda[0][0] if agenda else None
            candidates = [t for t in (deadline, t_action) if t is not None and t <= until]
            if not candidates:
                break
            self.now = max(self.now, min(candidates))
            while agenda and agenda[0][0] <= self.now:
                heapq.heappop(agenda)[2](self.now)
                self.settle()
            self.pile.handle_timer(self.now)
            self.settle()
            self.platform.handle_timer(self.now)
            self.settle()
        self.now = until


@dataclass
class PairedSite:
    """A one-pile scenario's world with the pile paired to an in-memory platform."""

    world: World
    platform: PlatformCore
    repo: MemoryRepository
    pair: EndpointPair

    def run(self, until: float | None = None) -> None:
        end = self.world.scenario.meta.duration if until is None else until
        self.pair.advance(end, [(t, action) for t, _, action in self.world.actions])


def paired_site(scenario: Scenario) -> PairedSite:
    """Build ``scenario`` (one pile) around the real platform, paired with no link."""
    repo = MemoryRepository()
    register_site(scenario, repo, scenario_tariff(scenario))
    platform = PlatformCore(repo, epoch=scenario.meta.epoch)
    world = build_world(scenario, core=platform, repo=repo)
    [pile] = world.piles.values()
    return PairedSite(world, platform, repo, EndpointPair(pile, platform))
