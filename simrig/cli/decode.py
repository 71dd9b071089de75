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

from simrig.capture.record import Chunk, LinkEvent
from simrig.exit_codes import ExitCode
from simrig.protocol.ykc import ErrorKind, Frame, FrameError, Framer
from simrig.protocol.ykc.jsonview import error_to_json, frame_to_json, json_value

_HEX = set(string.hexdigits + string.whitespace + ":-")


def split_input(hex_frames: list[str], file: Path | None) -> list[bytes]:
    """The byte chunks to decode: one per argument / hex line, or the whole raw file."""
    chunks: list[bytes] = []
    for item in hex_frames:
        chunks.append(_unhex(item))
    if file is not None:
        data = file.read_bytes()
        text = data.decode("latin-1")
        if data and set(text) <= _HEX:
            chunks += [_unhex(line) for line in text.splitlines() if line.strip()]
        else:
            chunks.append(data)
    return chunks


def _unhex(text: str) -> bytes:
    cleaned = "".join(ch for ch in text if ch in string.hexdigits)
    if len(cleaned) % 2:
        raise typer.BadParameter(f"odd number of hex digits in {text[:40]!r}")
    return bytes.fromhex(cleaned)


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
        results: list[tuple[Chunk | None, Frame | FrameError]] = [
            (None, f) for f in decode_chunks(split_input(hex_frames or [], None), tolerant)
        ]
        if file is not None:
            try:
                if file.suffix.lower() in (*_CAPTURES, ".hex"):
                    results += decode_capture(file, tolerant)
                else:
                    results += [(None, f) for f in decode_chunks(split_input([], file), tolerant)]
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
        console = Console(highlight=False)
        failed = False
        for chunk, item in results:
            where = _where(chunk, file)
            if where and not as_json:
                console.print(
                    f"[dim]{where['at']} {where['pile']} {where['direction']}[/dim]",
                    markup=True,
                )
            if isinstance(item, FrameError):
                failed = True
                if as_json:
                    print(json.dumps(where | error_to_json(item), ensure_ascii=False))
                else:
                    console.print(f"[red]error[/red] {item}")
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
    devs = (
        f"  [yellow]deviations: {', '.join(frame.deviations)}[/yellow]" if frame.deviations else ""
    )
    console.print(
        f"[bold]0x{frame.type:02X} {frame.name}[/bold] seq={frame.seq:04x} "
        f"({frame.message.SECTION}){devs}"
    )
    for key, value in frame.message.as_dict().items():
        console.print(f"    {key:<24} {json_value(value)}")
