"""Firmware profiles: one TOML file per ``vendor-model@version`` (design.md principle 3).

A profile names its pile family, timings and quirks; a vendor validates a new version by
writing a profile, not code. Built-in profiles live in ``profiles/*.toml`` next to this
module; user profiles from extra directories override or add by name (later directories
win). Every error is one line naming the file, the line and the field::

    ProfileError("path/to/x.toml:14: quirks.random_bill_loss.rate: must be between 0 and 1")

The format, every primitive and preset: ``docs/profile-format.md``.

File schema (all keys but ``vendor``, ``model``, ``version``, ``kind`` are optional)::

    vendor = "sinexcel"          # name = "<vendor>-<model>@<version>"
    model = "dc"
    version = "2090104"
    kind = "DC"                  # or "AC"
    guns = 2                     # 1-2
    max_power_kw = 120.0
    firmware_string = "2090104"  # 0x01 login firmware field, ≤ 8 ASCII chars
    protocol_version = 1.5       # 0x01 login, 1.5 or 1.6
    remote_upgrade = true        # 0x94 supported
    description = "..."
    [timings]                    # see Timings
    [quirks.NAME]                # a preset or a primitive, see simrig.firmware_models.quirks
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from .quirks import ParamError, expand, validate_params

__all__ = [
    "FirmwareProfile",
    "ProfileError",
    "Timings",
    "field_line",
    "list_profiles",
    "load_profile",
    "parse_profile",
    "read_profile_text",
    "with_overrides",
]

RETRY_POLICIES = ("3x30s", "once_after_5min")


class ProfileError(ValueError):
    """A profile cannot be found or is invalid; the message is one line: file: field: reason."""


@dataclass(frozen=True, slots=True)
class Timings:
    """Timing of the pile side of protocol §3 (defaults are the protocol's numbers)."""

    heartbeat_s: float = 10.0
    """0x03 period; heartbeats go round-robin over the guns, one gun per period."""
    heartbeat_misses: int = 3
    """Unanswered heartbeats after which the pile asks to drop the link (§3 item 2)."""
    realtime_charging_s: float = 15.0
    realtime_idle_s: float = 300.0
    bms_frames: bool = True
    """Send 0x23/0x25 every ``realtime_charging_s`` while charging (DC only)."""
    bill_delay_s: tuple[float, float] = (1.0, 10.0)
    """0x3B after the end of charging, uniform in this range (§3 item 7: within 30 s)."""
    bill_retry: str = "3x30s"
    """0x3B without 0x40: ``3x30s`` (§8.7) or ``once_after_5min`` (§8.8); then kept for
    the next login."""
    boot_s: float = 30.0
    """Power-on / reboot to ready (the link is wanted after this)."""
    reconnect_s: tuple[float, float] = (5.0, 60.0)
    """Reconnect backoff: first delay, doubling up to the maximum (±20 % rng jitter)."""
    model_retry_s: float = 10.0
    """0x05 / 0x09 repeated after this without an answer (§3 item 1: until success)."""
    login_timeout_s: float = 30.0
    """No 0x02 within this: the pile asks to drop the link and retries."""
    offline_realtime: bool = True
    """Keep realtime frames made while offline and upload them after re-login."""
    offline_realtime_max: int = 20
    """Bound of that store (oldest dropped)."""
    offline_stop_s: float = 120.0
    """A session is stopped this long after the link is lost (0 = never); see the
    ``charge_through_outage`` quirk."""
    remote_start_plug_s: float = 60.0
    """0x34 with no gun plugged: a plug within this sends a second 0x33 (§3 item 4)."""
    upgrade_download_s: tuple[float, float] = (60.0, 180.0)
    bill_at_unplug: bool = False
    """Finalise and upload the 0x3B only when the gun is returned (reported unplugged), or
    at once if it already is when the session ends; its ``trade_time`` is then the unplug
    time, which YKC platforms read as the service end (Sinexcel DC, zpd_case#4: charge
    end 08:19:33, service end 11:34:19). A gun pulled during charging still gets its bill
    at once (§13.3 #5). A new plug or a new order on the gun also releases a held bill;
    the ``start_failure_no_logout_late_bill`` quirk's own delay takes precedence."""
    pile_balance_stop: bool = False
    """The pile stops by itself (0x6E) when its running amount reaches the balance from
    0x32/0x34/0x42. Off by default: in the field the platform stops on balance from the
    realtime data (zpd_case#12); a pile doing both counts two stops (which loses the bill
    on 2090104, ``repeated_stop_loses_bill``)."""


@dataclass(frozen=True, slots=True)
class FirmwareProfile:
    """A firmware version as data. ``quirks`` maps quirk name → resolved parameters."""

    vendor: str
    model: str
    version: str
    kind: str
    guns: int = 1
    max_power_kw: float = 60.0
    firmware_string: str = ""
    protocol_version: float = 1.5
    remote_upgrade: bool = True
    description: str = ""
    timings: Timings = field(default_factory=Timings)
    quirks: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""

    @property
    def name(self) -> str:
        """``vendor-model@version``, the catalogue key."""
        return f"{self.vendor}-{self.model}@{self.version}"

    @property
    def family(self) -> str:
        """``vendor-model``: upgrades stay inside one family."""
        return f"{self.vendor}-{self.model}"

    def quirk(self, name: str) -> dict[str, Any] | None:
        return self.quirks.get(name)


_TOP = {
    "vendor": str,
    "model": str,
    "version": str,
    "kind": str,
    "guns": int,
    "max_power_kw": float,
    "firmware_string": str,
    "protocol_version": float,
    "remote_upgrade": bool,
    "description": str,
    "timings": dict,
    "quirks": dict,
}
_REQUIRED = ("vendor", "model", "version", "kind")


def _type_ok(value: Any, want: type) -> bool:
    if want is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, want)


def _check_timings(table: dict[str, Any]) -> Timings:
    known = {f.name: f for f in fields(Timings)}
    defaults = Timings()
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"timings.{key}"
        if key not in known:
            raise ParamError(f"{where}: unknown key (known: {', '.join(sorted(known))})")
        default = getattr(defaults, key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ParamError(f"{where}: must be true or false")
        elif isinstance(default, tuple):
            if not (
                isinstance(value, list)
                and len(value) == 2
                and all(_type_ok(v, float) for v in value)
                and 0 <= value[0] <= value[1]
            ):
                raise ParamError(f"{where}: must be a [low, high] pair with 0 <= low <= high")
            value = (float(value[0]), float(value[1]))
        elif key == "bill_retry":
            if value not in RETRY_POLICIES:
                raise ParamError(f"{where}: must be one of {', '.join(RETRY_POLICIES)}")
        elif isinstance(default, int | float):
            if not _type_ok(value, type(default)):
                raise ParamError(f"{where}: must be a number")
            if value < 0:
                raise ParamError(f"{where}: must be >= 0")
        values[key] = value
    timings = Timings(**values)
    if timings.heartbeat_s <= 0 or timings.realtime_charging_s <= 0:
        raise ParamError("timings: heartbeat_s and realtime_charging_s must be > 0")
    if timings.realtime_idle_s <= 0 or timings.heartbeat_misses < 1:
        raise ParamError("timings: realtime_idle_s must be > 0 and heartbeat_misses >= 1")
    if timings.reconnect_s[0] <= 0:
        raise ParamError("timings.reconnect_s: low must be > 0")
    if timings.bill_delay_s[1] > 30:
        raise ParamError("timings.bill_delay_s: high must be <= 30 (protocol §3 item 7)")
    return timings


def parse_profile(text: str, source: str) -> FirmwareProfile:
    """Parse and validate one profile; ``source`` names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source}: not valid TOML: {exc}") from None
    try:
        return _build(data, source)
    except ParamError as exc:
        field_name = str(exc).split(":", 1)[0]
        line = field_line(text, field_name)
        where = f"{source}:{line}" if line else source
        raise ProfileError(f"{where}: {exc}") from None


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s]+?)\s*\]\s*(#.*)?$")


def field_line(text: str, dotted: str) -> int | None:
    """The 1-based line of field ``a.b.c`` in a TOML text: its ``key =`` line in the
    deepest table header that prefixes it (``[a.b]``), else that header; None if absent."""
    parts = [p for p in dotted.split(".") if p]
    lines = text.splitlines()
    tables: list[tuple[int, tuple[str, ...]]] = [(-1, ())]
    for n, line in enumerate(lines):
        match = _HEADER.match(line)
        if match:
            tables.append((n, tuple(x.strip() for x in match.group(1).split("."))))
    best: tuple[int, tuple[str, ...]] | None = None
    for start, name in tables:
        if tuple(parts[: len(name)]) == name and (best is None or len(name) > len(best[1])):
            best = (start, name)
    if best is None:
        return None
    start, name = best
    rest = parts[len(name) :]
    if rest:
        key = re.compile(rf"^\s*{re.escape(rest[0])}\s*=")
        for n in range(start + 1, len(lines)):
            if _HEADER.match(lines[n]) or lines[n].lstrip().startswith("[["):
                break
            if key.match(lines[n]):
                return n + 1
    return start + 1 if start >= 0 else None


def _build(data: dict[str, Any], source: str) -> FirmwareProfile:
    for key, value in data.items():
        want = _TOP.get(key)
        if want is None:
            raise ParamError(f"{key}: unknown key (known: {', '.join(sorted(_TOP))})")
        if not _type_ok(value, want):
            kind = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
            raise ParamError(f"{key}: must be {kind.get(want, 'a table')}")
    for key in _REQUIRED:
        if key not in data:
            raise ParamError(f"{key}: missing")
    for key in ("vendor", "model", "version"):
        text = data[key]
        if not text or any(c in text for c in " @/\\") or (key != "version" and "-" in text):
            raise ParamError(f"{key}: {text!r} must be non-empty without spaces, '@' or '/'")
    if data["kind"] not in ("DC", "AC"):
        raise ParamError("kind: must be 'DC' or 'AC'")
    guns = data.get("guns", 1)
    if guns not in (1, 2):
        raise ParamError("guns: must be 1 or 2")
    power = float(data.get("max_power_kw", 60.0 if data["kind"] == "DC" else 7.0))
    if not 0 < power <= 1000:
        raise ParamError("max_power_kw: must be > 0 and <= 1000")
    fw = data.get("firmware_string", data["version"][:8])
    if len(fw) > 8 or not fw.isascii():
        raise ParamError("firmware_string: must be at most 8 ASCII characters")
    proto = float(data.get("protocol_version", 1.5))
    if proto not in (1.5, 1.6):
        raise ParamError("protocol_version: must be 1.5 or 1.6")
    timings = _check_timings(data.get("timings", {}))
    quirks: dict[str, dict[str, Any]] = {}
    for name, table in data.get("quirks", {}).items():
        quirks[name] = validate_params(name, table)
    expand(quirks)  # two entries setting one primitive: an error here
    return FirmwareProfile(
        vendor=data["vendor"],
        model=data["model"],
        version=data["version"],
        kind=data["kind"],
        guns=guns,
        max_power_kw=power,
        firmware_string=fw,
        protocol_version=proto,
        remote_upgrade=data.get("remote_upgrade", True),
        description=data.get("description", ""),
        timings=timings,
        quirks=quirks,
        source=source,
    )


def with_overrides(
    profile: FirmwareProfile,
    overrides: dict[str, dict[str, Any]],
    disable: Sequence[str] = (),
) -> FirmwareProfile:
    """``profile`` with a scenario pile's quirk overrides (parameters merged into the
    profile's entry of that name, or a new entry) and its ``disable_quirks`` (each must be
    an entry of the profile); ParamError ``field: reason`` otherwise."""
    for name in disable:
        if name not in profile.quirks:
            has = ", ".join(profile.quirks) or "none"
            raise ParamError(
                f"disable_quirks: {name!r} is not a quirk of {profile.name} (its quirks: {has})"
            )
    if not overrides and not disable:
        return profile
    quirks = {k: v for k, v in profile.quirks.items() if k not in disable}
    for name, table in overrides.items():
        resolved = validate_params(name, table)
        base = profile.quirks.get(name) or resolved
        quirks[name] = {**base, **{key: resolved[key] for key in table}}
    expand(quirks)
    return dataclasses.replace(profile, quirks=quirks)


# --------------------------------------------------------------------------- catalogue


def read_profile_text(path: Any) -> str:
    """The one place that reads a profile file (a ``pathlib.Path`` or package resource)."""
    text: str = path.read_text(encoding="utf-8")
    return text


def _builtin_files() -> list[Any]:
    folder = resources.files("simrig.firmware_models") / "profiles"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)


@functools.cache
def _builtin_catalogue() -> dict[str, FirmwareProfile]:
    """The shipped profiles, parsed once per process (they are package data)."""
    found: dict[str, FirmwareProfile] = {}
    for entry in _builtin_files():
        source = f"simrig/firmware_models/profiles/{entry.name}"
        profile = parse_profile(read_profile_text(entry), source)
        found[profile.name] = profile
    return found


def _catalogue(extra_dirs: Iterable[Path | str] = ()) -> dict[str, FirmwareProfile]:
    found = dict(_builtin_catalogue())
    for directory in extra_dirs:
        folder = Path(directory)
        if not folder.is_dir():
            raise ProfileError(f"{folder}: not a directory")
        for path in sorted(folder.glob("*.toml")):
            profile = parse_profile(read_profile_text(path), str(path))
            found[profile.name] = profile
    return found


def list_profiles(extra_dirs: Sequence[Path | str] = ()) -> list[FirmwareProfile]:
    """Every profile (built-in, then user directories overriding by name), sorted by name."""
    return sorted(_catalogue(extra_dirs).values(), key=lambda p: p.name)


def load_profile(name: str, extra_dirs: Sequence[Path | str] = ()) -> FirmwareProfile:
    """The profile called ``name`` (``vendor-model@version``), or a path to a TOML file."""
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            raise ProfileError(f"{name}: no such profile file")
        return parse_profile(read_profile_text(path), name)
    catalogue = _catalogue(extra_dirs)
    try:
        return catalogue[name]
    except KeyError:
        raise ProfileError(
            f"{name}: unknown firmware profile (known: {', '.join(sorted(catalogue))})"
        ) from None
