"""A backend with no speed option, scaled by libfaketime (issue 11 item 2): the reference
platform runs **without** ``--speed`` under ``faketime -f "+0 x60"`` in its own process;
simrig runs ``basic_card_session`` against it over ``tcp://`` at speed 60, with the
backend's clock pinned for scenario t=0 (``backend_epoch``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from simrig.protocol.ykc import Frame, Framer, TimeSync
from simrig.scenarios import load_scenario
from simrig.sim.runner import EmbeddedServer, run_scenario

SPEED = 60.0


def test_reference_platform_under_libfaketime_x60_without_its_speed_option():
    assert shutil.which("faketime"), "libfaketime is missing: `make setup` installs it"
    scenario = load_scenario("basic_card_session")
    # the session is over by 10:24:30; the cut keeps the test at ~27 s of wall time
    meta = scenario.meta.model_copy(update={"duration": 27 * 60.0})
    scenario = scenario.model_copy(update={"meta": meta})
    with EmbeddedServer(scenario, speed=SPEED, faketime=True) as server:
        assert server.server is not None
        proc = server.server.proc  # type: ignore[union-attr]
        args = [str(a) for a in proc.args]
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        assert b"FAKETIME=+0 x60" in environ  # preloaded into the server itself, no wrapper
        assert any(e.startswith(b"LD_PRELOAD=") and b"libfaketime" in e for e in environ)
        assert not {"--speed", "--epoch", "--start-monotonic"} & set(args)
        assert server.epoch is not None
        result = run_scenario(
            scenario,
            backend=f"tcp://127.0.0.1:{server.port}",
            speed=SPEED,
            backend_epoch=server.epoch,
            start_monotonic=server.start_monotonic,
        )
    assert proc.poll() is not None, "the server outlived its stop (an orphan)"
    assert result.passed, result.expectations
    assert result.epoch == server.epoch
    [verdict] = result.verdicts
    assert verdict.codes == frozenset()
    [order] = verdict.orders
    assert order.device_bill is not None and order.device_bill.acked
    # the backend's own clock ran at ×60: its time sync at login and its receipt of the
    # bill 20 minutes later both agree with the run's mapping (a ×1 clock would lag ~20 min)
    syncs = [
        (f.message.time - chunk.at).total_seconds()
        for chunk in result.chunks
        if chunk.direction == "down"
        for f in Framer(tolerant=True).feed(chunk.data)
        if isinstance(f, Frame) and isinstance(f.message, TimeSync)
    ]
    assert syncs and all(abs(s) < 30 for s in syncs), syncs
    [bill] = [b for b in server.view().bills() if b.serial == order.serial]
    assert bill.received_at is not None
    lag = (bill.received_at - order.device_bill.sent_at).total_seconds()
    assert abs(lag) < 30, lag
