"""``simrig load --capture sample`` (issue 13 item 2): a streamed capture of a sample of
piles, against the reference platform in its own process; the per-pile byte limit."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from simrig.adapters.realtime import FullRecord
from simrig.capture import Chunk, LinkEvent
from simrig.capture.formats import read_capture
from simrig.cli import app
from simrig.endpoint import Event
from simrig.exit_codes import ExitCode
from simrig.load.capture import CaptureSpec, CaptureTap, sample_piles
from simrig.protocol.ykc import Frame, Framer, GunHealth, Heartbeat, decode_frame, encode_frame

runner = CliRunner()
FIRST = 32010200000001
PILES = [str(FIRST + i) for i in range(12)]


def _decoded_frames(path: Path) -> list[tuple[str, str, str]]:
    """(pile, dir, hex) of every frame of a capture read back by simrig's reader, each
    frame decoded in full."""
    framers: dict[tuple[str, str], Framer] = {}
    frames = []
    for item in read_capture(path):
        if isinstance(item, Chunk):
            framer = framers.setdefault((item.pile_no, item.direction), Framer())
            for frame in framer.feed(item.data):
                assert isinstance(frame, Frame), frame
                decode_frame(frame.raw)
                frames.append((item.pile_no, item.direction, frame.raw.hex()))
    return frames


def test_capture_sample_holds_the_sampled_piles_only_and_none_writes_nothing(platform, tmp_path):
    """12 piles at 20×, 3 sampled (spread by pile number): capture.pcapng read back by
    ``read_capture`` holds exactly those piles' links (connects and frames both ways), its
    frames decode and are the same frames, in order, as frames.jsonl's; ``--capture
    none`` (the default) leaves only load.json and load.png."""
    server = platform(12, 20.0)
    run = ["load", "--backend", f"tcp://127.0.0.1:{server.port}", "--no-live"]
    run += ["--piles", "12", "--ramp", "1s", "--speed", "20", "--sessions-per-pile-hour", "0"]
    out = tmp_path / "sample"
    result = runner.invoke(
        app, [*run, "--duration", "4s", "--capture", "sample", "--capture-piles", "3",
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == ExitCode.PASS, result.output
    sample = sample_piles(PILES, 3)
    assert sample == [PILES[0], PILES[4], PILES[8]]
    assert sorted(p.name for p in out.iterdir()) == [
        "capture.pcapng", "frames.jsonl", "load.json", "load.png",
    ]  # fmt: skip
    items = list(read_capture(out / "capture.pcapng"))
    links = [i for i in items if isinstance(i, LinkEvent)]
    assert {i.pile_no for i in items} == set(sample)
    assert {(e.pile_no, e.kind) for e in links} >= {(p, "connected") for p in sample}
    frames = _decoded_frames(out / "capture.pcapng")
    lines = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    assert not [row for row in lines if "error" in row]
    assert frames == [(row["pile"], row["dir"], row["hex"]) for row in lines]
    kinds = Counter((row["pile"], row["name"]) for row in lines)
    for pile in sample:  # 80 scenario-s: a login and its reply, heartbeats both ways
        assert kinds[pile, "login"] == 1 and kinds[pile, "heartbeat"] >= 4
    data = json.loads((out / "load.json").read_text())
    assert any(note.startswith("capture: 3 sampled piles") for note in data["notes"])

    quiet = tmp_path / "none"
    result = runner.invoke(app, [*run, "--duration", "2s", "--out", str(quiet)])
    assert result.exit_code == ExitCode.PASS, result.output
    assert sorted(p.name for p in quiet.iterdir()) == ["load.json", "load.png"]


def test_per_pile_byte_limit_keeps_whole_chunks_up_to_the_limit(tmp_path):
    """A sampled pile is captured up to the limit in whole chunks, then no more; other
    piles are never written; the inner recorder still sees everything."""
    epoch = datetime(2024, 3, 1, 8)
    inner = FullRecord(lambda t: epoch + timedelta(seconds=t), None)
    spec = CaptureSpec(tmp_path, (PILES[0],), max_bytes=100)
    tap = CaptureTap(inner, spec, PILES[:2], inner.wall)
    beat = encode_frame(Heartbeat(pile_no=PILES[0], gun=1, gun_state=GunHealth(0)), seq=1)
    for t, pile in enumerate([PILES[0], PILES[1]] * 10):
        if t < 2:
            tap.event(Event(float(t), "connected", pile, data={"conn": 1}))
        tap.sent(pile, beat, float(t))
    tap.close()
    assert len(inner.chunks) == 20 and len(inner.events) == 2
    chunks = [i for i in read_capture(tmp_path / "capture.pcapng") if isinstance(i, Chunk)]
    assert {c.pile_no for c in chunks} == {PILES[0]}
    assert len(chunks) == 100 // len(beat) and sum(len(c.data) for c in chunks) <= 100
    assert len((tmp_path / "frames.jsonl").read_text().splitlines()) == len(chunks)
    assert tap.full == {PILES[0]} and "cut at 100 bytes" in tap.summary()
