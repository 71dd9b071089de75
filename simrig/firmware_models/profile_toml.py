"""A firmware profile written back as TOML (``simrig firmware show``): every field with its
resolved value, each quirk entry with its case and the primitives it expands into, as
comments. The text parses back to the same profile (:func:`~.profile.parse_profile`)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import tomlkit

from .profile import FirmwareProfile, Timings
from .quirks import PRESETS, PRIMITIVES, expand

__all__ = ["profile_toml"]


def _plain(value: Any) -> Any:
    """TOML-ready: tuples as lists, floats kept."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def profile_toml(p: FirmwareProfile) -> str:
    """``p`` as a profile file (comments name each quirk's cases and primitives)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"{p.name} (from {p.source or 'memory'})"))
    for key in ("vendor", "model", "version", "kind", "guns", "max_power_kw"):
        doc.add(key, getattr(p, key))
    doc.add("firmware_string", p.firmware_string)
    doc.add("protocol_version", p.protocol_version)
    doc.add("remote_upgrade", p.remote_upgrade)
    doc.add("description", p.description)
    timings = tomlkit.table()
    for f in fields(Timings):
        timings.add(f.name, _plain(getattr(p.timings, f.name)))
    doc.add("timings", timings)
    if p.quirks:
        enabled = expand(p.quirks)
        quirks = tomlkit.table(is_super_table=True)
        for name, params in p.quirks.items():
            table = tomlkit.table()
            preset = PRESETS.get(name)
            if preset is not None:
                parts = sorted(k for k, e in enabled.items() if e.by == name)
                table.add(
                    tomlkit.comment(f"preset ({preset.case}) = primitives {', '.join(parts)}")
                )
            else:
                table.add(tomlkit.comment(f"primitive ({PRIMITIVES[name].case})"))
            for key, value in params.items():
                table.add(key, _plain(value))
            quirks.add(name, table)
        doc.add("quirks", quirks)
    return tomlkit.dumps(doc)
