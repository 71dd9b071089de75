"""Render a text file (a CI log) to a PNG, monospace, as an 80-column console shows it.

``python tools/text_to_png.py LOG.txt OUT.png [--title TEXT]`` — the before/after
pictures of docs/img/ (issue 16) are made this way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

COLUMNS = 80


def render(text: str, path: Path, title: str = "") -> Path:
    lines = text.rstrip("\n").splitlines()
    width_in, line_in = 0.085 * (COLUMNS + 4), 0.165
    height_in = line_in * (len(lines) + (3 if title else 1.5))
    fig = Figure(figsize=(width_in, height_in), dpi=110, facecolor="#1e1e1e")
    FigureCanvasAgg(fig)
    y = 1 - 0.6 * line_in / height_in
    if title:
        fig.text(0.02, y, title, color="#ffd54f", family="DejaVu Sans Mono", fontsize=9, va="top")
        y -= 1.6 * line_in / height_in
    body = "\n".join(line[:COLUMNS] for line in lines)  # the console is 80 columns
    fig.text(
        0.02, y, body, color="#e0e0e0", family="DejaVu Sans Mono", fontsize=9, va="top",
        linespacing=1.25,
    )  # fmt: skip
    fig.savefig(path, format="png", facecolor=fig.get_facecolor())
    fig.clear()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    render(args.log.read_text(encoding="utf-8"), args.png, args.title)


if __name__ == "__main__":
    main()
