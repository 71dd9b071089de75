"""A drawn figure saved as a PNG file: its folder made, the figure cleared after."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["save_png"]


def save_png(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` to ``path`` (making its folder) and clear it, saved or not: a
    cleared figure holds no artists, so a long report run keeps no memory per chart."""
    try:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        fig.clear()
    return path
