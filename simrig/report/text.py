"""Tables for people and for CI logs: printed whole, or stacked when they do not fit.

A rich table squeezed below its natural width cuts cells to ``Sessi…`` and
``sinexcel-dc@209…`` (two firmware versions then look the same). :func:`print_table`
never lets that happen: a table that fits the console is printed as it is; one that does
not is printed *stacked* — each row as a heading (its first cell) and one wrapped line of
``column: value`` pairs — so every identifier (pile, firmware version, scenario, code)
stays whole at any width. ``--format plain`` is the same without colour or box drawing.
"""

from __future__ import annotations

from typing import Literal

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["FORMATS", "OutputFormat", "print_table", "stacked", "table_fits"]

OutputFormat = Literal["plain", "rich", "json"]
FORMATS: tuple[str, ...] = ("plain", "rich", "json")


def table_fits(console: Console, table: Table) -> bool:
    """True when ``table`` prints at its natural width (no cell cut or wrapped)."""
    unbounded = console.options.update_width(1_000_000)
    return Measurement.get(console, unbounded, table).maximum <= console.width


def _plain_text(cell: object) -> Text:
    if isinstance(cell, Text):
        return cell
    return Text(str(cell)) if cell is not None else Text("")


def _header(column_header: object) -> str:
    return " ".join(_plain_text(column_header).plain.split())


def stacked(table: Table, width: int = 80) -> list[Text]:
    """The table as lines at most ``width`` cells wide: its title, then per row the first
    cell as a heading and the other non-empty cells as ``column: value`` pairs joined by
    `` · ``, indented two spaces. Lines break between pairs; a pair longer than a line
    breaks between words, never inside an identifier shorter than a line.

    A row whose first cell is empty continues the heading above it (the summary table's
    rows per firmware)."""
    lines: list[Text] = []
    if table.title:
        title = _plain_text(table.title).copy()
        title.stylize("bold")
        lines.append(title)
    headers = [_header(c.header) for c in table.columns]
    columns = [list(c.cells) for c in table.columns]
    for r in range(table.row_count):
        row = [_plain_text(col[r]) if r < len(col) else Text("") for col in columns]
        if row and row[0].plain.strip():
            heading = row[0].copy()
            heading.stylize("bold")
            lines.append(heading)
        pairs = []
        for header, cell in zip(headers[1:], row[1:], strict=True):
            if cell.plain.strip():
                pair = Text(f"{header}: " if header else "")
                pair.append_text(Text(" ".join(cell.plain.split()), style=cell.style))
                pairs.append(pair)
        lines += _pack(pairs, width - len(_INDENT))
    return lines


_INDENT = "  "
_SEPARATOR = " · "


def _pack(pairs: list[Text], width: int) -> list[Text]:
    """Pairs greedily on indented lines; a pair wider than a line gets a line of its own
    (word-wrapped by :func:`print_table` with the same indent)."""
    lines: list[Text] = []
    line: Text | None = None
    for pair in pairs:
        if line is not None and line.cell_len + len(_SEPARATOR) + pair.cell_len <= width:
            line.append(_SEPARATOR)
            line.append_text(pair)
            continue
        if line is not None:
            lines.append(line)
        line = pair.copy()
    if line is not None:
        lines.append(line)
    return [Text(_INDENT) + line for line in lines]


def print_table(console: Console, table: Table, plain: bool = False) -> None:
    """Print ``table`` whole if it fits ``console``, else :func:`stacked` (wrapped, never
    cut). ``plain``: ASCII borders (logs that mangle box drawing)."""
    if plain:
        table.box = box.ASCII
    if table_fits(console, table):
        console.print(table)
        return
    for line in stacked(table, console.width):
        indent = len(line.plain) - len(line.plain.lstrip(" "))
        body = line[indent:] if indent else line
        for piece in body.wrap(console, max(10, console.width - indent), overflow="fold"):
            piece.rstrip()
            console.print(Text(" " * indent) + piece, soft_wrap=True)
