"""``simrig decode``: frames from hex arguments, a capture file or a raw byte stream.

Capture files are read by suffix (:mod:`simrig.capture.formats`): ``.pcapng``/``.pcap``
are reassembled per TCP stream and direction (a frame split across segments is one
frame), ``.jsonl`` (``frames.jsonl``) and ``.hex`` are decoded line by line; any other
file is hex lines or a raw byte stream."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from simrig.capture.record import Chunk, LinkEvent
from simrig.exit_codes import ExitCode
from simrig.protocol.ykc import ErrorKind, Frame, FrameError, Framer
from simrig.protocol.ykc.jsonview import error_to_json, frame_to_json, json_value

from .common import fail

_HEX = set(string.hexdigits + string.whitespace + ":-")
#: characters between hex digits that carry no meaning (``68 0C``, ``68:0C``, ``68-0C``)
_SEPARATORS = set(string.whitespace + ":-,")


class HexError(ValueError):
    """Hex input with a character that is not a hex digit or separator (one line, with
    its position), or an odd number of digits."""


def join_hex(tokens: list[str], what: str = "the arguments") -> bytes:
    """The hex arguments as one byte stream: tokens are joined, so one frame may be
    written in several (``680C…2305 00DA4C``); the framer finds where each frame ends.

    A character that is neither a hex digit nor a separator (space, ``:``, ``-``, ``,``)
    is refused with its argument and column; a ``0x`` prefix on a token is allowed."""
    digits: list[str] = []
    for n, token in enumerate(tokens, 1):
        start = 2 if token[:2] in ("0x", "0X") else 0
        for column, ch in enumerate(token[start:], start + 1):
            if ch in string.hexdigits:
                digits.append(ch)
            elif ch not in _SEPARATORS:
                raise HexError(
                    f"argument {n}, character {column}: {ch!r} is not a hex digit "
                    f"(in {token[:40]!r})"
                )
    if len(digits) % 2:
        raise HexError(f"odd number of hex digits ({len(digits)}) in {what}")
    return bytes.fromhex("".join(digits))


#: a file is hex text (not raw bytes) when this share of its visible characters are hex
HEX_TEXT_SHARE = 0.9


def _hex_text(text: str) -> bool:
    """Hex lines, perhaps with a stray character (refused with its line and column by
    :func:`join_hex`), rather than a raw byte stream (which has unprintable bytes)."""
    visible = [ch for ch in text if not ch.isspace()]
    if not visible or any(not (ch.isprintable() or ch in "\r\n\t") for ch in text):
        return False
    return sum(ch in _HEX for ch in visible) >= HEX_TEXT_SHARE * len(visible)


def split_input(hex_frames: list[str], file: Path | None) -> list[bytes]:
    """The byte chunks to decode: the arguments joined (:func:`join_hex`), then one per
    hex line of ``file`` or the whole raw file."""
    chunks: list[bytes] = []
    if hex_frames:
        chunks.append(join_hex(hex_frames))
    if file is not None:
        data = file.read_bytes()
        text = data.decode("latin-1")
        if data and _hex_text(text):
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        chunks.append(join_hex([line], "this line"))
                    except HexError as exc:
                        reason = str(exc).replace("argument 1, ", "")
                        raise HexError(f"{file}:{number}: {reason}") from None
        else:
            chunks.append(data)
    return chunks


#: suffixes whose lines carry when, which pile and which way (printed with each frame)
_CAPTURES = (".pcapng", ".pcap", ".jsonl")


def decode_capture(path: Path, tolerant: bool) -> list[tuple[Chunk | None, Frame | FrameError]]:
    """Frames of a capture file with the chunk that completed each (None: at stream end).

    pcap/pcapng: one framer per pile and direction, fresh at each connection; jsonl and
    hex: a framer per line."""
    from simrig.capture.formats import read_capture

    per_stream = path.suffix.lower() in (".pcapng", ".pcap")
    framers: dict[tuple[str, str], Framer] = {}
    out: list[tuple[Chunk | None, Frame | FrameError]] = []

    def end(pile_no: str) -> None:
        for direction in ("up", "down"):
            framer = framers.pop((pile_no, direction), None)
            if framer is not None:
                out.extend((None, error) for error in framer.close())

    for item in read_capture(path):
        if isinstance(item, LinkEvent):
            end(item.pile_no)
            continue
        if not per_stream:
            found = decode_chunks([item.data], tolerant)
            out.extend((item, f) for f in found)
            continue
        key = (item.pile_no, item.direction)
        framer = framers.get(key)
        if framer is None:
            framer = framers[key] = Framer(tolerant=tolerant)
        out.extend((item, f) for f in framer.feed(item.data))
    for pile_no in {p for p, _ in framers}:
        end(pile_no)
    return out


def decode_chunks(chunks: list[bytes], tolerant: bool) -> list[Frame | FrameError]:
    results: list[Frame | FrameError] = []
    for chunk in chunks:
        framer = Framer(tolerant=tolerant)
        found = framer.feed(chunk) + list(framer.close())
        results += found or [FrameError(ErrorKind.TRUNCATED, "no frame in input", chunk)]
    return results


def register(app: typer.Typer) -> None:
    @app.command()
    def decode(
        hex_frames: Annotated[list[str] | None, typer.Argument(help="Frames as hex.")] = None,
        file: Annotated[
            Path | None,
            typer.Option(
                "--file",
                "-f",
                help="A capture (.pcapng, .pcap, .jsonl, .hex: by suffix), hex lines or raw bytes.",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per frame.")] = False,
        tolerant: Annotated[
            bool, typer.Option("--tolerant", help="Accept field variants (§8), report them.")
        ] = False,
    ) -> None:
        """Decode YKC frames (strict unless --tolerant); exit 1 if any frame is bad."""
        if not hex_frames and file is None:
            raise typer.BadParameter("give HEX frames or --file FILE")
        if file is not None and not file.is_file():
            raise typer.BadParameter(f"{file}: no such file")
        try:
            results: list[tuple[Chunk | None, Frame | FrameError]] = [
                (None, f) for f in decode_chunks(split_input(hex_frames or [], None), tolerant)
            ]
        except HexError as exc:
            fail(str(exc))
        if file is not None:
            try:
                if file.suffix.lower() in (*_CAPTURES, ".hex"):
                    results += decode_capture(file, tolerant)
                else:
                    results += [(None, f) for f in decode_chunks(split_input([], file), tolerant)]
            except ValueError as exc:
                fail(str(exc))
        console = Console(highlight=False)
        failed = False
        for chunk, item in results:
            where = _where(chunk, file)
            if where and not as_json:
                console.print(
                    Text(f"{where['at']} {where['pile']} {where['direction']}", style="dim")
                )
            if isinstance(item, FrameError):
                failed = True
                if as_json:
                    print(json.dumps(where | error_to_json(item), ensure_ascii=False))
                else:
                    console.print(Text.assemble(("error", "red"), f" {item}"))
                continue
            if as_json:
                print(json.dumps(where | frame_to_json(item), ensure_ascii=False))
            else:
                _print_frame(console, item)
        raise typer.Exit(ExitCode.BAD_INPUT if failed else ExitCode.PASS)


def _where(chunk: Chunk | None, file: Path | None) -> dict[str, str]:
    """When, which pile and which way, for frames read from a capture file."""
    if (
        chunk is None
        or file is None
        or (file.suffix.lower() not in _CAPTURES and not chunk.pile_no)
    ):
        return {}
    return {
        "at": chunk.at.isoformat(timespec="microseconds"),
        "pile": chunk.pile_no,
        "direction": chunk.direction,
    }


def _print_frame(console: Console, frame: Frame) -> None:
    """Header and one line per field; values are text, never markup (``[1, 2]`` stays)."""
    line = Text.assemble(
        (f"0x{frame.type:02X} {frame.name}", "bold"),
        f" seq={frame.seq:04x} ({frame.message.SECTION})",
    )
    if frame.deviations:
        line.append(f"  deviations: {', '.join(frame.deviations)}", style="yellow")
    console.print(line)
    for key, value in frame.message.as_dict().items():
        console.print(Text(f"    {key:<24} {json_value(value)}"), overflow="fold")
