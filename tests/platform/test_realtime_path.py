"""The 0x13 path's records field by field (protocol §4.6): what the per-frame shortcuts
(a sample built by position, wall time as a multiple of one millisecond) must keep."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from simrig.platform import RealtimeSample
from simrig.platform.rules import PlatformRules
from simrig.platform.wallclock import WallClock
from simrig.protocol.ykc import Frame, GunStatus, RealtimeData, encode_frame

from .helpers import EPOCH, PILE, PlatformRig


def _charging_frame(
    serial: str, energy: float, amount: float | None = None, **more: Any
) -> RealtimeData:
    """A charging 0x13 of gun 1 at 401.5 V / 98.7 A (amount: 1.5 yuan per kWh unless given)."""
    return RealtimeData(
        serial=serial,
        pile_no=PILE,
        gun=1,
        status=GunStatus.CHARGING,
        plugged=True,
        voltage=401.5,
        current=98.7,
        energy=energy,
        amount=energy * 1.5 if amount is None else amount,
        **more,
    )


def test_a_stored_sample_holds_each_field_of_its_frame():
    rig = PlatformRig()
    serial = rig.card_session(now=10.0)
    frame = _charging_frame(
        serial, 12.3456, amount=20.25, soc=61, charge_minutes=17, loss_energy=12.5, faults=0x0102
    )
    rig.send(rig.pile.frame(frame), 42.0015)
    (sample,) = rig.repo.list_realtime(serial)
    assert sample == RealtimeSample(
        session_key=serial,
        pile_no=PILE,
        gun=1,
        at=EPOCH + timedelta(seconds=42, milliseconds=2),
        status=3,
        plugged=True,
        voltage=401.5,
        current=98.7,
        soc=61,
        charge_minutes=17,
        energy=123_456,
        loss_energy=125_000,
        amount=202_500,
        faults=0x0102,
    )
    assert type(sample.status) is int
    session = rig.repo.get_session(serial)
    assert (session.last_energy, session.last_amount, session.rt_samples) == (123_456, 202_500, 1)
    assert session.last_rt_at == sample.at == session.started_at


def test_wall_time_is_the_epoch_plus_now_rounded_to_the_millisecond():
    epoch = datetime(2019, 10, 29, 8, 0, 0)
    clock = WallClock(epoch)
    for now in (0.0, 0.0004, 0.0005, 0.0015, 59.9996, -1.2345, 86_400 * 400 + 0.123, 1e9 + 0.5):
        assert clock.wall(now) == epoch + timedelta(milliseconds=round(now * 1000)), now
        assert clock.now_of(clock.wall(now)) == round(now * 1000) / 1000


def test_a_0x13_handed_over_decoded_is_handled_as_its_bytes():
    """The virtual driver's realtime on paper: same sample, same order, same counters."""
    parsed, decoded = PlatformRig(), PlatformRig()
    serial = parsed.card_session(now=10.0)
    assert decoded.card_session(now=10.0) == serial
    for i, energy in enumerate((1.25, 2.5, 3.75)):
        msg = _charging_frame(serial, energy)
        now = 20.0 + 15 * i
        parsed.send(parsed.pile.frame(msg), now)
        decoded.core.speed.take_frame(decoded.cid, Frame(msg, 100 + i), now)
    assert decoded.repo.list_realtime(serial) == parsed.repo.list_realtime(serial)
    assert decoded.repo.get_session(serial) == parsed.repo.get_session(serial)
    assert decoded.core.stats["frames"] == parsed.core.stats["frames"]


def test_a_decoded_0x13_that_fails_is_reported_with_its_encoded_bytes():
    rig = PlatformRig()
    serial = rig.card_session(now=10.0)

    def broken(*args: object) -> None:
        raise OSError("disk full")

    rig.repo.add_realtime = broken  # type: ignore[method-assign]
    msg = _charging_frame(serial, 1.0)
    rig.core.speed.take_frame(rig.cid, Frame(msg, 7), 20.0)
    [error] = [e for e in rig.core.events() if e.kind == "frame_error"]
    assert error.data["hex"] == encode_frame(msg, 7).hex()
    assert rig.core.stats["frame_errors"] == 1


def test_without_stored_samples_the_order_moves_on_the_same():
    """``store_realtime_samples`` off (runs that keep verdicts only): no sample is
    stored, the order reads each 0x13 as before."""
    kept, lean = PlatformRig(), PlatformRig(PlatformRules(store_realtime_samples=False))
    serial = kept.card_session(now=10.0)
    assert lean.card_session(now=10.0) == serial
    for i, energy in enumerate((1.25, 2.5, 3.75)):
        for rig in (kept, lean):
            rig.send(rig.pile.frame(_charging_frame(serial, energy)), 20.0 + 15 * i)
    assert len(kept.repo.list_realtime(serial)) == 3
    assert lean.repo.list_realtime(serial) == []
    assert lean.repo.get_session(serial) == kept.repo.get_session(serial)
    assert lean.repo.get_session(serial).rt_samples == 3
