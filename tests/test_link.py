"""Pure link fault model: latency, loss, duplicates, corruption, outages (simrig.link)."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from simrig.link import Link, LinkModel

FRAME = bytes.fromhex("680d0001000312345678901234") + bytes(range(40))
N = 4000


def send_many(link: LinkModel, n: int = N, step: float = 1.0) -> list[list[tuple[float, bytes]]]:
    return [link.send(FRAME, i * step) for i in range(n)]


def test_ideal_link_delivers_once_after_latency_without_rng() -> None:
    link = LinkModel(None, latency_s=0.25)
    assert link.send(b"abc", 10.0) == [(10.25, b"abc")]
    assert link.send(b"", 11.0) == [(11.25, b"")]
    assert link.stats.delivered == 2 and link.stats.sent == 2


@pytest.mark.parametrize("kw", [{"loss": 0.1}, {"jitter_s": 0.1}, {"corrupt": 0.1}])
def test_faults_need_an_rng(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="rng"):
        LinkModel(None, **kw)


@pytest.mark.parametrize("kw", [{"loss": 1.5}, {"duplicate": -0.1}, {"latency_s": -1.0}])
def test_bad_parameters_are_rejected(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LinkModel(random.Random(0), **kw)


def test_loss_rate_matches_probability() -> None:
    link = LinkModel(random.Random(1), loss=0.2)
    out = send_many(link)
    lost = sum(1 for d in out if not d)
    assert 0.17 * N < lost < 0.23 * N
    assert link.stats.lost_random == lost and link.stats.delivered == N - lost
    assert all(d == [(i * 1.0, FRAME)] for i, d in enumerate(out) if d)


def test_duplicate_rate_and_duplicates_are_identical() -> None:
    link = LinkModel(random.Random(2), latency_s=0.05, duplicate=0.1)
    out = send_many(link)
    dups = [d for d in out if len(d) == 2]
    assert 0.08 * N < len(dups) < 0.12 * N
    assert all(d[0] == d[1] for d in dups)
    assert all(len(d) in (1, 2) for d in out)
    assert link.stats.duplicated == len(dups)


def test_corruption_flips_exactly_one_byte() -> None:
    link = LinkModel(random.Random(3), corrupt=0.3)
    out = send_many(link)
    corrupted = [d[0][1] for d in out if d[0][1] != FRAME]
    assert 0.27 * N < len(corrupted) < 0.33 * N
    assert link.stats.corrupted == len(corrupted)
    positions = set()
    for data in corrupted:
        assert len(data) == len(FRAME)
        diff = [i for i, (a, b) in enumerate(zip(data, FRAME, strict=True)) if a != b]
        assert len(diff) == 1
        positions.add(diff[0])
    assert len(positions) > len(FRAME) // 2  # flips land all over the frame
    always = LinkModel(random.Random(3), corrupt=1.0)
    assert always.send(b"", 0.0) == [(0.0, b"")]  # nothing to flip
    assert all(always.send(b"\x00", t)[0][1] != b"\x00" for t in range(100))


def test_outage_windows_swallow_sends_and_report_boundaries() -> None:
    link = LinkModel(None, outages=[(100.0, 200.0), (150.0, 250.0), (400.0, 500.0)])
    assert link.outages == ((100.0, 250.0), (400.0, 500.0))  # overlaps merged
    assert link.is_up(99.9) and not link.is_up(100.0) and not link.is_up(249.9)
    assert link.is_up(250.0)
    assert link.send(b"x", 120.0) == [] and link.stats.lost_outage == 1
    assert link.send(b"x", 250.0) == [(250.0, b"x")]
    assert [link.next_change(t) for t in (0.0, 100.0, 120.0, 250.0, 450.0, 500.0)] == [
        100.0,
        250.0,
        250.0,
        400.0,
        500.0,
        None,
    ]
    with pytest.raises(ValueError):
        LinkModel(None, outages=[(5.0, 5.0)])


def test_data_in_flight_when_an_outage_starts_is_lost() -> None:
    link = LinkModel(None, latency_s=1.0, outages=[(100.0, 110.0)])
    assert link.send(b"a", 98.5) == [(99.5, b"a")]
    assert link.send(b"b", 99.5) == []  # would arrive at 100.5, inside the outage
    assert link.stats.lost_in_flight == 1


def test_zpd_case_12_offline_window_drops_heartbeats() -> None:
    """zpd_case#12: no heartbeat reached the platform between 18:25:05 and 18:38:57."""
    t0 = 18 * 3600.0
    down, up = 18 * 3600 + 25 * 60 + 5.0, 18 * 3600 + 38 * 60 + 57.0
    link = LinkModel(random.Random(12), latency_s=0.05, jitter_s=0.05, outages=[(down, up)])
    arrivals = [t for i in range(200) for t, _ in link.send(FRAME, t0 + 15.0 * i + 1.0)]
    assert arrivals and not any(down <= t < up for t in arrivals)
    assert any(t < down for t in arrivals) and any(t >= up for t in arrivals)
    assert link.next_change(t0) == down


def test_jitter_never_reorders() -> None:
    link = LinkModel(random.Random(4), latency_s=0.1, jitter_s=5.0, duplicate=0.2)
    deliveries = [
        (t, data) for i in range(2000) for t, data in link.send(i.to_bytes(2, "big"), i * 0.01)
    ]
    times = [t for t, _ in deliveries]
    assert times == sorted(times)
    order = [int.from_bytes(d, "big") for _, d in deliveries]
    assert order == sorted(order)
    assert max(t - int.from_bytes(d, "big") * 0.01 for t, d in deliveries) > 4.0  # jitter used


def _trace(seed: int) -> list[list[tuple[float, bytes]]]:
    link = LinkModel(
        random.Random(seed),
        latency_s=0.2,
        jitter_s=0.3,
        loss=0.05,
        duplicate=0.05,
        corrupt=0.05,
        outages=[(300.0, 360.0)],
    )
    return send_many(link, 1000, 0.5)


def test_same_seed_same_deliveries() -> None:
    assert _trace(7) == _trace(7)
    assert _trace(7) != _trace(8)


def test_fault_probabilities_do_not_shift_the_random_stream() -> None:
    """Six draws per send: a lossy run delivers the survivors at the same times."""
    clean = LinkModel(random.Random(5), latency_s=0.1, jitter_s=1.0)
    lossy = LinkModel(random.Random(5), latency_s=0.1, jitter_s=1.0, loss=0.3)
    pairs = [(clean.send(FRAME, i * 10.0), lossy.send(FRAME, i * 10.0)) for i in range(500)]
    survivors = [(c, lo) for c, lo in pairs if lo]
    assert 300 < len(survivors) < 400
    assert all(c == lo for c, lo in survivors)


def test_link_pairs_two_directions() -> None:
    link = Link.symmetric(
        random.Random(9), random.Random(10), latency_s=0.1, outages=[(50.0, 60.0)]
    )
    assert link.up is not link.down and link.up.rng is not link.down.rng
    assert link.up.send(b"login", 1.0) == [(1.1, b"login")]
    assert link.down.send(b"ack", 1.1) == [(pytest.approx(1.2), b"ack")]
    assert not link.is_up(55.0) and link.is_up(60.0)
    assert link.next_change(0.0) == 50.0 and link.next_change(60.0) is None
    asym = Link(LinkModel(None), LinkModel(None, outages=[(5.0, 6.0)]))
    assert asym.up.send(b"x", 5.5) and not asym.down.send(b"x", 5.5)
    assert not asym.is_up(5.5)


def test_outage_boundaries_are_half_open() -> None:
    link = LinkModel(None, outages=[(10.0, 20.0)])
    states = [link.is_up(t) for t in itertools.chain([9.999, 10.0], [19.999, 20.0])]
    assert states == [True, False, False, True]
