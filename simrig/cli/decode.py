"""``simrig decode``: frames from hex arguments, a hex-lines file or a raw byte stream."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
            Path | None, typer.Option("--file", "-f", help="Hex lines or a raw byte stream.")
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
        results = decode_chunks(split_input(hex_frames or [], file), tolerant)
        console = Console(highlight=False)
        failed = False
        for item in results:
            if isinstance(item, FrameError):
                failed = True
                if as_json:
                    print(json.dumps(error_to_json(item), ensure_ascii=False))
                else:
                    console.print(f"[red]error[/red] {item}")
                continue
            if as_json:
                print(json.dumps(frame_to_json(item), ensure_ascii=False))
            else:
                _print_frame(console, item)
        raise typer.Exit(ExitCode.BAD_INPUT if failed else ExitCode.PASS)


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
