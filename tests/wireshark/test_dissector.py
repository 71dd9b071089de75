"""The generated Wireshark dissector: in sync with the codec, and checked by the real tshark.

tshark (Debian's package, installed by ``make setup``) opens a pcapng holding one frame of
every type in the codec registry plus reassembly and error cases; every field it shows
must equal what ``simrig decode --json`` says of the same bytes (protocol-ykc §1–§5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import simrig.protocol.ykc.wire as w
from simrig.cli import app
from simrig.protocol.ykc import (
    MESSAGES,
    CardSync,
    Heartbeat,
    Message,
    RealtimeData,
    TimeSync,
    encode_frame,
)
from simrig.protocol.ykc.crc import crc_bytes
from simrig.wireshark import install, lua_path
from simrig.wireshark.generate import generate
from tests.protocol.strategies import for_message
from tests.wireshark.tcp_capture import TcpCapture

TSHARK = shutil.which("tshark")
LUA54 = shutil.which("lua5.4")
STUB = Path(__file__).with_name("wslua_stub.lua")
needs_tshark = pytest.mark.skipif(
    TSHARK is None and not os.environ.get("CI"),
    reason="tshark not installed (make setup installs it; CI requires it)",
)
needs_lua54 = pytest.mark.skipif(
    LUA54 is None and not os.environ.get("CI"),
    reason="lua5.4 not installed (make setup installs it; CI requires it)",
)


def test_shipped_lua_is_a_fresh_generation() -> None:
    assert lua_path().read_text(encoding="utf-8") == generate(), (
        "ykc.lua is stale: run `make dissector`"
    )


def test_cli_path_and_install(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["wireshark", "path"])
    assert result.exit_code == 0
    assert Path(result.output.strip()) == lua_path()
    result = runner.invoke(app, ["wireshark", "install", "--folder", str(tmp_path / "plugins")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plugins" / "ykc.lua").read_bytes() == lua_path().read_bytes()
    assert install(tmp_path / "again").name == "ykc.lua"


# --- tshark ---------------------------------------------------------------------------------


def run_tshark(capture: Path, home: Path, *options: str) -> list[ET.Element]:
    """Every ``ykc`` proto element of the capture's PDML, in wire order."""
    assert TSHARK is not None, "tshark is required in CI (make setup installs it)"
    # an isolated HOME: a personal copy of ykc.lua would register the protocol twice
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    cmd = [TSHARK, "-n", "-X", f"lua_script:{lua_path()}", "-r", str(capture), "-T", "pdml"]
    done = subprocess.run(
        [*cmd, *options], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Lua" not in done.stderr, done.stderr  # a load error is only a warning to tshark
    assert "Lua Error" not in done.stdout
    return ykc_protos(done.stdout)


def ykc_protos(pdml: str) -> list[ET.Element]:
    protos = ET.fromstring(pdml).findall(".//proto[@name='ykc']")
    assert protos, (
        "tshark shows no YKC: Lua disabled? (as root, init.lua's run_user_scripts_when_superuser)"
    )
    return protos


def run_lua54(stream: bytes) -> list[ET.Element]:
    """The YKC protos of ``stream`` dissected by ykc.lua on Lua 5.4 (the wslua stand-in)."""
    assert LUA54 is not None, "lua5.4 is required in CI (make setup installs it)"
    done = subprocess.run(
        [LUA54, str(STUB), str(lua_path()), stream.hex()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return ykc_protos(done.stdout)


def decode_json(frames: list[bytes], *options: str) -> list[dict[str, Any]]:
    """``simrig decode --json`` of each frame."""
    args = ["decode", "--json", *options, *(f.hex() for f in frames)]
    result = CliRunner().invoke(app, args)
    return [json.loads(line) for line in result.output.splitlines()]


def _num(value: float) -> str:
    return f"{value:.15g}"  # what a double shows in Wireshark (DBL_DIG digits)


def normalise(value: Any) -> Any:
    """JSON values with floats at display precision (the comparison key)."""
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def shown(elem: ET.Element, abbr: str, kind: w.Kind) -> Any:
    """The JSON value (normalised) of the field ``elem`` as Wireshark shows it."""
    show = elem.get("show", "")
    if isinstance(kind, w.Enum8):
        label = elem.get("showname", "").split(": ", 1)[1].rsplit(" (", 1)[0]
        return int(show) if label == "Unknown" else label
    if isinstance(kind, w.Flag):
        return show == "1"
    if isinstance(kind, (w.Scaled, w.BmsCurrent)) or (
        isinstance(kind, w.UIntN) and kind.scale != 1
    ):
        return _num(float(show))
    if isinstance(kind, (w.UInt, w.UIntN)):
        return int(show)
    if isinstance(kind, w.Cp56Time):
        return show or None
    if isinstance(kind, w.ByteTable):
        return [int(c.get("show", "")) for c in elem.findall(f"field[@name='{abbr}.slot']")]
    if isinstance(kind, w.Repeated):
        return [
            [shown(_one(rec, f"{abbr}.{item}"), f"{abbr}.{item}", sub) for item, sub in kind.items]
            for rec in elem.findall(f"field[@name='{abbr}.record']")
        ]
    return show  # BCD digits, hex ids, ASCII


def _one(parent: ET.Element, name: str) -> ET.Element:
    found = parent.findall(f"field[@name='{name}']")
    assert len(found) == 1, f"{name}: {len(found)} elements"
    return found[0]


def experts(proto: ET.Element) -> dict[str, list[str]]:
    """Expert infos of one PDU: abbreviation → messages."""
    out: dict[str, list[str]] = {}
    for group in proto.iter("field"):
        if group.get("name") == "_ws.expert":
            for item in group:
                name = item.get("name", "")
                if name.startswith("ykc."):
                    out.setdefault(name, []).append(item.get("showname", ""))
    return out


def compare(proto: ET.Element, decoded: dict[str, Any]) -> int:
    """Assert the PDU shows exactly what ``simrig decode --json`` decoded; return fields seen."""
    cls = MESSAGES[decoded["type"]]
    type_item = _one(proto, "ykc.type")
    assert int(type_item.get("show", ""), 16) == decoded["type"]
    assert type_item.get("showname", "").startswith(f"type: {decoded['name']} (")
    assert int(_one(proto, "ykc.seq").get("show", ""), 16) == int(decoded["seq"], 16)
    assert _one(proto, "ykc.crc.status").get("show") == "1"
    deviations = [m.split(" ", 1)[0] for m in experts(proto).get("ykc.deviation", [])]
    assert deviations == decoded["deviations"]
    assert set(experts(proto)) <= {"ykc.deviation"}
    body = _one(proto, f"ykc.{cls.NAME}")
    prefix = f"ykc.{cls.NAME}."
    names = [c.get("name", "").removeprefix(prefix) for c in body if c.get("name") != "_ws.expert"]
    assert names == list(decoded["fields"]), "tshark shows other fields than the codec"
    for name, kind in cls.codec.fields:
        abbr = prefix + name
        value = shown(_one(body, abbr), abbr, kind)
        assert value == normalise(decoded["fields"][name]), f"{abbr}: {value!r}"
    return len(names)


def _with_bad_crc(frame: bytes) -> bytes:
    return frame[:-2] + bytes((frame[-2] ^ 0xFF, frame[-1]))


def _with_extra_byte(frame: bytes) -> bytes:
    inner = bytes((frame[2], frame[3], frame[4], frame[5])) + frame[6:-2] + b"\x00"
    return bytes((0x68, len(inner))) + inner + crc_bytes(inner)


def write_capture(path: Path, messages: list[Message]) -> list[bytes]:
    """Frames of ``messages`` on one TCP stream, consecutive frames of one direction
    coalesced into one segment; then a frame split across two segments, a bad CRC and a
    wrong body length. Returns every frame in wire order."""
    capture = TcpCapture(path)
    frames: list[bytes] = []
    pending: list[bytes] = []
    uplink = True
    for seq, message in enumerate(messages):
        frame = encode_frame(message, seq)
        if pending and (message.TYPE % 2 == 1) != uplink:
            capture.send(uplink, b"".join(pending))
            pending = []
        uplink = message.TYPE % 2 == 1
        pending.append(frame)
        frames.append(frame)
    if pending:
        capture.send(uplink, b"".join(pending))
    split = encode_frame(RealtimeData(pile_no="32010200000001", voltage=380.5, energy=1.25), 7)
    capture.send(True, split[:1])  # the start byte alone, then the rest in two parts
    capture.send(True, split[1:30])
    beat = encode_frame(Heartbeat(pile_no="32010200000001"), 8)
    bad = _with_bad_crc(beat)
    long = _with_extra_byte(beat)
    capture.send(True, split[30:] + bad + long + beat)
    frames += [split, bad, long, beat]
    capture.close()
    return frames


_ALL_TYPES = st.tuples(*(for_message(cls) for _, cls in sorted(MESSAGES.items())))


def check_all(protos: list[ET.Element], frames: list[bytes]) -> None:
    """Every registry frame shows as decoded; the bad CRC and the wrong body length (the
    last frames but one and two) are flagged."""
    decoded = decode_json(frames)
    assert len(protos) == len(frames) == len(decoded)
    fields = 0
    good = [(p, d) for p, d in zip(protos, decoded, strict=True) if "error" not in d]
    for proto, item in good:
        fields += compare(proto, item)
    assert len(good) == len(frames) - 2
    assert {d["type"] for _, d in good} == set(MESSAGES)
    assert fields >= sum(len(cls.codec.fields) for cls in MESSAGES.values())
    bad, long = protos[-3], protos[-2]
    assert decoded[-3]["kind"] == "bad_crc"
    assert _one(bad, "ykc.crc.status").get("show") == "0"
    assert "ykc.bad_crc" in experts(bad)
    assert decoded[-2]["kind"] == "body_length"
    assert experts(long)["ykc.body_length"] == ["heartbeat body is 10 bytes, §4.3 says 9"]


def _examples(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@needs_tshark
@_examples(4)
@given(messages=_ALL_TYPES)
def test_tshark_shows_every_field_as_simrig_decodes_it(
    tmp_path: Path, messages: tuple[Message, ...]
) -> None:
    path = tmp_path / "ykc.pcapng"
    frames = write_capture(path, list(messages))
    protos = run_tshark(path, tmp_path)
    check_all(protos, frames)
    split = protos[-4]  # start byte, 29 bytes, the rest: reassembled from three segments
    assert int(_one(split, "ykc.length").get("show", "")) == len(frames[-4]) - 4


@needs_lua54
@_examples(15)
@given(messages=_ALL_TYPES)
def test_lua54_shows_every_field_as_simrig_decodes_it(messages: tuple[Message, ...]) -> None:
    """Debian 12's Wireshark runs Lua 5.2; newer ones 5.4 (integer/float subtypes)."""
    frames = [encode_frame(m, seq) for seq, m in enumerate(messages)]
    beat = encode_frame(Heartbeat(pile_no="32010200000001"), 8)
    frames += [_with_bad_crc(beat), _with_extra_byte(beat), beat]
    check_all(run_lua54(b"".join(frames)), frames)


def _set(frame: bytes, index: int, value: int) -> bytes:
    """``frame`` with one byte changed and its CRC made valid again."""
    inner = bytearray(frame[2:-2])
    inner[index - 2] = value
    return frame[:2] + bytes(inner) + crc_bytes(inner)


@needs_lua54
def test_deviations_are_flagged_as_tolerant_decoding_names_them() -> None:
    """§8 field variants: the dissector shows the value and a warning with the codec's code."""
    pile = "32010200000001"
    time = encode_frame(TimeSync(pile_no=pile, time=datetime(2024, 12, 18, 17, 15, 30)), 1)
    sync = encode_frame(CardSync(pile_no=pile, cards=(("0000001000000573", "00AB"),)), 2)
    frames = [
        _set(time, 6 + 7 + 4, time[6 + 7 + 4] | 0x60),  # day-of-week bits (JCPP sample)
        _set(time, 6 + 7 + 6, 0x9C),  # reserved bit of the year byte
        _set(encode_frame(Heartbeat(pile_no=pile, gun=1), 3), 6 + 7, 0x1A),  # gun not BCD
        _set(sync, 6 + 7 + 1, 0xA0),  # a card's logical number not BCD
    ]
    decoded = decode_json(frames, "--tolerant")
    protos = run_lua54(b"".join(frames))
    for proto, item in zip(protos, decoded, strict=True):
        assert item["deviations"]
        compare(proto, item)


@needs_tshark
def test_port_preference(tmp_path: Path) -> None:
    path = tmp_path / "other_port.pcapng"
    capture = TcpCapture(path, port=19000)
    capture.send(True, encode_frame(Heartbeat(pile_no="32010200000001"), 1))
    capture.close()
    protos = run_tshark(path, tmp_path, "-o", "ykc.port:19000")
    assert _one(protos[0], "ykc.heartbeat").get("showname") == "heartbeat"
