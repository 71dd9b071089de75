"""Fuzz ``simrig platform serve`` in its own process (issue 15 item 1): 50,000 mutated
frames over 250 connections; no exception may escape, the server stays up and still
serves a valid pile, and a bill with hex nibbles in its serial is acked byte for byte.

Each connection logs in as a registered pile (or sends garbage first), then sends a
seeded mix of uplink frames: most mutated *inside* a valid frame (CRC recomputed, so
they reach the decoders and handlers), some with non-digit BCD nibbles, some naming
another pile, some broken on the wire (CRC, length, truncation, junk).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from simrig.adapters.platform_process import start_platform
from simrig.platform import DEMO_PILES
from simrig.protocol.ykc import (
    MESSAGES,
    AckResult,
    CardAuthReply,
    Confirm,
    Frame,
    Framer,
    HeartbeatReply,
    LoginReply,
    LoginResult,
    RecordAck,
    TransactionRecord,
    crc16_modbus,
    encode_frame,
)

from .conftest import SocketPile

SEED = 15
CONNECTIONS = 250
FRAMES_PER_CONNECTION = 200
PARALLEL = 16
#: registered piles: one per parallel connection, so logins rarely take over each other
PILES = sorted(DEMO_PILES) + [f"3301{i:010d}" for i in range(PARALLEL * 2)]
#: a registered pile no fuzzing connection names: served all through the fuzz
BYSTANDER = "34010000000001"
#: a card and a rich account per registered pile: every connection opens a real order
CARDS = {p: f"{0xF00 + i:016X}" for i, p in enumerate(PILES[3:])}
#: tolerate every bad frame of a connection: each one must reach the server's handlers;
#: no frame events (the load setting: the handlers run all the same)
CONFIG = (
    "[rules]\nmalformed_frame_budget = 1000\nmin_start_balance = 0\n"
    "emit_frame_events = false\n"
    + "".join(
        f'[[piles]]\npile_no = "{p}"\nguns = 2\n'
        f'[[accounts]]\naccount_id = "fuzz-{p}"\nbalance = 10000000\n'
        f'[[cards]]\nphysical = "{card}"\nlogical = "{p[-10:]}"\naccount_id = "fuzz-{p}"\n'
        for p, card in CARDS.items()
    )
    + f'[[piles]]\npile_no = "{BYSTANDER}"\n'
)
#: one of every uplink frame type, with its default field values
UPLINKS = [cls() for code, cls in sorted(MESSAGES.items()) if code % 2 == 1]


def _frame(message: object, seq: int) -> bytes:
    return encode_frame(message, seq)  # type: ignore[arg-type]


def _with_crc(inner: bytes) -> bytes:
    crc = crc16_modbus(inner)
    return bytes((0x68, len(inner))) + inner + bytes((crc & 0xFF, crc >> 8))


def mutate(rng: random.Random, pile_no: str, seq: int, serial: str = "") -> bytes:
    """One seeded fuzz frame for a connection logged in as ``pile_no`` (``serial``: its
    open order, put into frames that carry one so they reach the settlement's checks)."""
    message = rng.choice(UPLINKS)
    if hasattr(message, "pile_no"):
        claimed = pile_no if rng.random() < 0.9 else rng.choice(PILES)
        message = dataclasses.replace(message, pile_no=claimed)  # type: ignore[type-var]
    if serial and hasattr(message, "serial") and rng.random() < 0.7:
        message = dataclasses.replace(message, serial=serial, gun=1)  # type: ignore[type-var]
    good = bytearray(_frame(message, seq))
    inner = good[2:-2]
    roll = rng.random()
    if roll < 0.55:  # random bytes inside the body, CRC valid: reaches the decoder
        for _ in range(rng.randint(1, 4)):
            if len(inner) > 4:
                inner[rng.randrange(4, len(inner))] = rng.randrange(256)
        return _keep_pile(rng, _with_crc(bytes(inner)), message)
    if roll < 0.75:  # non-digit BCD nibbles (hex in a serial or ICCID, as field piles send)
        for _ in range(rng.randint(1, 3)):
            if len(inner) > 4:
                at = rng.randrange(4, len(inner))
                inner[at] = (inner[at] & 0xF0) | rng.randrange(10, 16)
        return _keep_pile(rng, _with_crc(bytes(inner)), message)
    if roll < 0.85:  # well-formed, random seq and encryption flag
        inner[0], inner[1], inner[2] = rng.randrange(256), rng.randrange(256), rng.choice((0, 1, 7))
        return _with_crc(bytes(inner))
    if roll < 0.9:  # bad CRC
        good[-1] ^= 0x5A
        return bytes(good)
    if roll < 0.95:  # a lying length byte or a truncated frame
        if rng.random() < 0.5:
            good[1] = rng.randrange(256)
            return bytes(good)
        return bytes(good[: rng.randrange(1, len(good))])
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))  # junk


def _keep_pile(rng: random.Random, wire: bytes, original: object) -> bytes:
    """Mostly put the intended pile number back into a mutated frame (decoded tolerantly
    and re-encoded), so the mutation reaches the handlers instead of the identity check."""
    claimed = getattr(original, "pile_no", None)
    if claimed is None or rng.random() < 0.15:
        return wire
    items = Framer(tolerant=True).feed(wire)
    if len(items) != 1 or not isinstance(items[0], Frame):
        return wire
    frame = items[0]
    message = dataclasses.replace(frame.message, pile_no=claimed)  # type: ignore[type-var]
    try:
        return _with_crc(wire[2:6] + message.codec.encode(message))
    except Exception:  # a field the mutation put out of the encoder's range: send as is
        return wire


async def _drain(reader: asyncio.StreamReader) -> None:
    """Read the server's replies so its write buffer never fills."""
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, OSError):
        pass


async def _fuzz_connection(port: int, index: int) -> int:
    rng = random.Random(SEED * 100_003 + index)
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    pile_no = PILES[index % len(PILES)]
    pile = SocketPile(reader, writer, pile_no)
    drain: asyncio.Task[None] | None = None
    sent = 0
    try:
        if index % 10 == 0:  # garbage before the login
            writer.write(bytes(rng.randrange(256) for _ in range(200)))
        await pile.send(pile.login())
        serial = ""
        if pile_no in CARDS:  # a real order: mutated 0x13/0x23/0x3B reach its checks
            await pile.send(pile.card_start(gun=1, card=CARDS[pile_no]))
            with contextlib.suppress(TimeoutError):
                reply = await pile.expect(CardAuthReply, timeout=5)
                serial = reply.serial if reply.result == Confirm.OK else ""
        drain = asyncio.create_task(_drain(reader))
        for seq in range(1, FRAMES_PER_CONNECTION + 1):
            writer.write(mutate(rng, pile_no, seq, serial))
            sent += 1
            if seq % 20 == 0:
                await writer.drain()
        if serial:  # settle the order, so the gun is free for the next connection
            now = datetime.now().replace(microsecond=0)
            await pile.send(pile.bill(serial, now, now, 1.0))
        await writer.drain()
    except (ConnectionError, OSError):
        pass  # the server may close a connection (a cap, a refused login): that is allowed
    finally:
        writer.close()
        if drain is not None:
            drain.cancel()
    return sent


async def _fuzz(port: int) -> tuple[int, int]:
    """(frames sent, heartbeats a bystander pile got answered while the fuzz ran)."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(index: int) -> int:
        async with gate:
            return await _fuzz_connection(port, index)

    bystander = await SocketPile.connect(port, BYSTANDER)
    await bystander.send(bystander.login())
    assert (await bystander.expect(LoginReply)).result == LoginResult.OK
    fuzz = asyncio.gather(*(one(i) for i in range(CONNECTIONS)))
    answered = 0
    while not fuzz.done():  # a pile that behaves is served all along (each reply < 10 s)
        await bystander.send(bystander.heartbeat())
        await bystander.expect(HeartbeatReply, timeout=10)
        answered += 1
        await asyncio.sleep(0.2)
    bystander.close()
    return sum(await fuzz), answered


async def _valid_pile_is_served(port: int) -> None:
    """Log in, heartbeat, and get a bill with hex nibbles in its serial acked byte for byte."""
    pile = await SocketPile.connect(port, PILES[1])
    try:
        await pile.send(pile.login())
        assert (await pile.expect(LoginReply)).result == LoginResult.OK
        await pile.send(pile.heartbeat())
        await pile.expect(HeartbeatReply)
        serial = PILES[1] + "01" + "ab" * 8
        bill = TransactionRecord(serial=serial, pile_no=PILES[1], gun=1)
        raw = encode_frame(bill, 77)
        await pile.send(raw)
        ack = await pile.expect(RecordAck)
        assert ack.serial == serial and ack.result == AckResult.ILLEGAL  # no such order
        # the echo is byte for byte: the ack's serial bytes are the bill's
        echoed = encode_frame(RecordAck(serial=serial, result=AckResult.ILLEGAL), 77)
        assert echoed[6:22] == raw[6:22]
    finally:
        pile.close()


@pytest.mark.timeout(120)
def test_fuzzed_frames_never_hurt_the_server(tmp_path: Path) -> None:
    config = tmp_path / "platform.toml"
    config.write_text(CONFIG)
    log = tmp_path / "server.log"
    server = start_platform(
        [
            *("--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--demo"),
            *("--db", str(tmp_path / "p.sqlite"), "--config", str(config)),
            *("--log-file", str(log)),
        ]
    )
    try:
        sent, answered = asyncio.run(_fuzz(server.port))
        assert server.proc.poll() is None, "the server died"
        asyncio.run(_valid_pile_is_served(server.port))
        stats = httpx.get(
            f"http://127.0.0.1:{server.http_port}/stats", headers=server.api_headers, timeout=10
        ).json()
    finally:
        server.stop()
    text = log.read_text() + "".join(server.stderr_tail)
    print(f"fuzz: {sent} frames over {CONNECTIONS} connections; bystander answered {answered}")
    print(f"fuzz: server stats {stats}")
    assert sent >= CONNECTIONS * FRAMES_PER_CONNECTION * 0.9
    assert answered >= 3
    for sign in ("Traceback", "Fatal error", "internal error", "Exception in callback"):
        assert sign not in text, text[text.find(sign) - 200 : text.find(sign) + 2000]
    assert stats["faults"] == 0
    assert stats["frame_errors"] == 0, "a handler raised on a decoded frame"
    assert stats["malformed"] > 1000 and stats["pile_mismatches"] > 100
    assert stats["frames"] > 10_000
    assert stats["bills"] > 100, "few mutated bills reached the settlement"


def test_a_decoded_non_digit_bcd_frame_is_echoed_byte_for_byte() -> None:
    """What the tolerant decoder accepts (hex nibbles in a serial) encodes to the same bytes."""
    bill = TransactionRecord(serial="0" * 16, pile_no=PILES[0], gun=1)
    raw = bytearray(encode_frame(bill, 1))
    raw[6:22] = bytes.fromhex("3201020000000101ab00cdef00112233")  # serial (16 bytes)
    raw[28] = 0x0E  # the pile number's last byte (after the serial)
    raw[29] = 0x1F  # the gun: one BCD byte
    inner = bytes(raw[2:-2])
    wire = _with_crc(inner)
    [frame] = Framer(tolerant=True).feed(wire)
    assert isinstance(frame, Frame) and frame.deviations
    assert encode_frame(frame.message, frame.seq) == wire
