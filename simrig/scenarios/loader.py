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


#: the deepest nesting of arrays and tables a scenario may have (a real one has 4)
MAX_DEPTH = 32


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: TOML syntax: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{source}: nesting deeper than the parser can follow") from None
    deep = _too_deep(data, MAX_DEPTH)
    if deep is not None:
        raise ScenarioError(_locate(text, source, deep, f"nested deeper than {MAX_DEPTH} levels"))
    try:
        resolved = _resolve_times(data)
    except _FieldError as exc:
        raise ScenarioError(_locate(text, source, exc.loc, exc.reason)) from None
    try:
        scenario = Scenario.model_validate(resolved)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        explicit = re.match(r"^(\w+)\[(\d+)\]\.(\w+): (.*)$", reason)
        if explicit:  # cross-reference errors name their own field
            loc = (explicit.group(1), int(explicit.group(2)), explicit.group(3))
            reason = explicit.group(4)
        quirk = re.match(r"^quirks\.(\w+)(?:\.(\w+))?: (.*)$", reason)
        if quirk and loc and loc[-1] == "quirks":  # a pile's quirk override: name its key
            loc = (*loc, *(g for g in quirk.groups()[:2] if g))
            reason = quirk.group(3)
        raise ScenarioError(_locate(text, source, loc, reason)) from None
    _check_pile_quirks(scenario, text, source)
    return scenario


def _check_pile_quirks(scenario: Scenario, text: str, source: str) -> None:
    """Each pile's ``disable_quirks`` and overrides against its profile, when the profile
    is known here (a built-in name or a file; one from ``--profile-dir`` is checked when
    the run builds the pile)."""
    from simrig.firmware_models.profile import ProfileError, load_profile, with_overrides

    for i, pile in enumerate(scenario.piles):
        try:
            profile = load_profile(pile.profile)
        except ProfileError:
            continue
        try:
            with_overrides(profile, pile.quirks, pile.disable_quirks)
        except ValueError as exc:
            field, _, reason = str(exc).partition(": ")
            loc: tuple[Any, ...] = ("piles", i, *field.split("."))
            if loc[2] == "quirks":
                loc = ("piles", i, "quirks", *field.split(".")[1:])
            raise ScenarioError(_locate(text, source, loc, reason)) from None


def _too_deep(value: Any, limit: int) -> tuple[Any, ...] | None:
    """The location of the first value nested deeper than ``limit`` (iteratively: no
    recursion to exhaust), or None."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, loc = stack.pop()
        if len(loc) > limit:
            return loc[:3]
        if isinstance(item, dict):
            stack += [(v, (*loc, k)) for k, v in item.items()]
        elif isinstance(item, list):
            stack += [(v, (*loc, i)) for i, v in enumerate(item)]
    return None


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
    sub = [str(p) for p in loc[2:] if not isinstance(p, int)]
    if len(sub) >= 2:  # [piles.quirks.NAME] below the pile's [[piles]] header
        found = _subtable_line(lines, start, table, sub)
        if found is not None:
            return found
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for n in range(start + 1, len(lines)):
        if re.match(r"^\s*\[", lines[n]):
            break
        if key_re.match(lines[n]):
            return n + 1
    return start + 1


def _subtable_line(lines: list[str], start: int, table: str, sub: list[str]) -> int | None:
    """The line of ``[table.a.b]`` (and its ``key =`` when ``sub`` has one more part)
    inside the array entry starting at line ``start``; None if it is not there."""
    header = re.compile(rf"^\s*\[\s*{re.escape('.'.join([table, *sub[:2]]))}\s*\]")
    for n in range(start + 1, len(lines)):
        if lines[n].lstrip().startswith("[["):
            return None
        if header.match(lines[n]):
            if len(sub) < 3:
                return n + 1
            key_re = re.compile(rf"^\s*{re.escape(sub[2])}\s*=")
            for m in range(n + 1, len(lines)):
                if lines[m].lstrip().startswith("["):
                    break
                if key_re.match(lines[m]):
                    return m + 1
            return n + 1
    return None
