"""Load scenario files: TOML → :class:`Scenario`, with one-line errors naming file, line, field."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .schema import Scenario, parse_at

LIBRARY = "simrig.scenarios.library"


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message is one line: ``file:line: field: why``."""


def library_names() -> list[str]:
    """Names of the built-in scenarios (file stems of ``scenarios/library/*.toml``)."""
    folder = resources.files(LIBRARY)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def library_path(name: str) -> Path:
    return Path(str(resources.files(LIBRARY).joinpath(f"{_file_stem(name)}.toml")))


def _file_stem(name: str) -> str:
    """``igo_case#29`` and ``igo_case_29`` both name ``library/igo_case_29.toml``."""
    return name.replace("#", "_")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario by library name (``igo_case#29``) or by file path."""
    path = Path(name_or_path)
    if not path.suffix and _file_stem(str(name_or_path)) in library_names():
        path = library_path(str(name_or_path))
    if not path.is_file():
        known = ", ".join(library_names())
        raise ScenarioError(f"{name_or_path}: no such scenario file or library name ({known})")
    return parse_scenario(path.read_text(encoding="utf-8"), source=str(path))


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: TOML syntax: {exc}") from None
    try:
        resolved = _resolve_times(data)
    except _FieldError as exc:
        raise ScenarioError(_locate(text, source, exc.loc, exc.reason)) from None
    try:
        return Scenario.model_validate(resolved)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        explicit = re.match(r"^(\w+)\[(\d+)\]\.(\w+): (.*)$", reason)
        if explicit:  # cross-reference errors name their own field
            loc = (explicit.group(1), int(explicit.group(2)), explicit.group(3))
            reason = explicit.group(4)
        raise ScenarioError(_locate(text, source, loc, reason)) from None


class _FieldError(Exception):
    def __init__(self, loc: tuple[Any, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc = loc
        self.reason = reason


def _resolve_times(data: dict[str, Any]) -> dict[str, Any]:
    """Turn every ``at`` and outage time into seconds since the epoch (needs the epoch)."""
    out = dict(data)
    meta = data.get("meta", {})
    epoch = meta.get("epoch", datetime(2019, 10, 29))
    if isinstance(epoch, str):
        try:
            epoch = datetime.fromisoformat(epoch)
        except ValueError:
            raise _FieldError(("meta", "epoch"), f"{epoch!r} is not an ISO date-time") from None
    if not isinstance(epoch, datetime):
        raise _FieldError(("meta", "epoch"), "must be a date-time like 2019-10-29T12:00:00")
    previous = 0.0
    steps = []
    for i, step in enumerate(data.get("timeline", [])):
        if not isinstance(step, dict) or "at" not in step:
            raise _FieldError(("timeline", i, "at"), "every timeline entry needs 'at'")
        step = dict(step)
        try:
            step["at"] = previous = parse_at(step["at"], epoch, previous)
            if "every" in step:
                step["every"] = _seconds(step["every"])
        except (ValueError, TypeError) as exc:
            raise _FieldError(("timeline", i, "at"), str(exc)) from None
        steps.append(step)
    if steps:
        out["timeline"] = sorted(steps, key=lambda s: s["at"])
    nets = []
    for i, net in enumerate(data.get("network", [])):
        net = dict(net)
        windows = []
        for window in net.get("outages", []):
            try:
                start = parse_at(window[0], epoch, 0.0)
                end = parse_at(window[1], epoch, start)
            except (ValueError, TypeError, IndexError) as exc:
                raise _FieldError(("network", i, "outages"), f"outage {window!r}: {exc}") from None
            windows.append((start, end))
        net["outages"] = windows
        nets.append(net)
    if nets:
        out["network"] = nets
    return out


def _seconds(value: Any) -> float:
    from .schema import parse_duration

    return parse_duration(value)


def scenario_file(name_or_path: str | Path) -> Path | None:
    """The file :func:`load_scenario` reads for ``name_or_path`` (None: no such file)."""
    path = Path(name_or_path)
    if not path.suffix and _file_stem(str(name_or_path)) in library_names():
        path = library_path(str(name_or_path))
    return path if path.is_file() else None


def locate_error(text: str, source: str, loc: tuple[Any, ...], reason: str) -> str:
    """A one-line error about field ``loc`` (``("piles", 0, "profile")``) of a scenario
    read from ``text``: ``file:line: piles[0].profile: reason``."""
    return _locate(text, source, loc, reason)


def _locate(text: str, source: str, loc: tuple[Any, ...], reason: str) -> str:
    """``file:line: a.b[2].c: reason`` — the line of the field, or of its table header."""
    field = ""
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    line = _line_of(text.splitlines(), loc)
    return f"{source}:{line}: {field}: {reason}" if line else f"{source}: {field}: {reason}"


def _line_of(lines: list[str], loc: tuple[Any, ...]) -> int | None:
    if not loc:
        return None
    table = str(loc[0])
    index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    key = next((str(p) for p in loc[1:] if not isinstance(p, int)), None)
    header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
    starts = [n for n, line in enumerate(lines) if header.match(line)]
    if not starts:
        return None
    start = starts[index] if index is not None and index < len(starts) else starts[0]
    if key is None:
        return start + 1
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for n in range(start + 1, len(lines)):
        if re.match(r"^\s*\[", lines[n]):
            break
        if key_re.match(lines[n]):
            return n + 1
    return start + 1
