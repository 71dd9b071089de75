"""The scenario-format reference and its JSON Schema, generated from the code.

``python -m simrig.report.scenario_format`` (or ``make docs``) writes
``docs/scenario-format.md`` and ``docs/scenario.schema.json`` from
:mod:`simrig.scenarios.schema` (tables and fields), :class:`simrig.platform.rules.PlatformRules`
(``[platform]``), :data:`simrig.firmware_models.quirks.QUIRKS` (per-pile ``quirks``) and
the shipped firmware profiles. ``--check`` exits 1 when either file differs from what the
code gives (a test does the same). What the schema itself does not say — units, an example
per field, the meaning of a field without a description — lives in :data:`FIELD_NOTES`; a
field missing there stops the generator, so a new field cannot go undocumented.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from simrig.domain.tariff import Band
from simrig.firmware_models.profile import list_profiles
from simrig.firmware_models.quirks import QUIRKS
from simrig.platform.records import NotificationKind
from simrig.platform.rules import PlatformRules
from simrig.scenarios import schema as sc

__all__ = ["FIELD_NOTES", "json_schema", "main", "markdown"]

DOCS = Path(__file__).resolve().parents[2] / "docs"
MARKDOWN_PATH = DOCS / "scenario-format.md"
SCHEMA_PATH = DOCS / "scenario.schema.json"

#: the TOML tables of a scenario, in file order: (key, model, array of tables?, what it is)
TABLES: tuple[tuple[str, type[BaseModel], bool, str], ...] = (
    ("meta", sc.Meta, False, "what the scenario is: name, case id, seed, clock, epoch, length"),
    ("piles", sc.PileDef, True, "the piles of the site and their firmware"),
    ("vehicles", sc.VehicleDef, True, "vehicles plugged in by `plug` steps"),
    ("users", sc.UserDef, True, "app accounts and cards used by `card` / `app_start` steps"),
    ("timeline", sc.Step, True, "what happens when (stimuli, faults, balance changes)"),
    ("network", sc.NetworkDef, True, "link faults per pile (or every pile)"),
    (
        "network.frame_rules",
        sc.FrameRuleDef,
        True,
        "inside a `[[network]]`: drop, delay or duplicate the Nth frame of a type",
    ),
    (
        "network.event_outages",
        sc.EventOutageDef,
        True,
        "inside a `[[network]]`: an outage opened by a protocol event (zpd_case#12)",
    ),
    ("expect", sc.Expectation, True, "the expected verdict of one session"),
    ("expect_rate", sc.RateExpectation, True, "workloads: the share of sessions with a code"),
)

_TIME = 'a time: `"12:19:05"`, `"d2 08:00"` (day 2), `"+5m"` (after the previous step) or seconds'
_DURATION = 'a duration: `"90s"`, `"5m"`, `"2h"`, `"1.5d"` or seconds'
_HANDSHAKE: tuple[str, ...] = ("bhm_timeout", "brm_timeout", "bcp_timeout", "bro_timeout")
_HANDSHAKE += ("insulation", "bms_not_ready")

_OUTAGES = "windows `[start, end]` with no byte either way; end may be `+30m`"

#: per ``Model.field``: (unit, example as TOML, description when the schema has none)
FIELD_NOTES: dict[str, tuple[str, str, str]] = {
    "Meta.name": ("", '"igo_case#29_late_bill"', "the scenario's name (reports, file names)"),
    "Meta.description": ("", '"Card start, 10-hour late bill"', "one line for `scenarios list`"),
    "Meta.case": ("", '"igo_case#29"', "the field incident reproduced (empty: none)"),
    "Meta.seed": ("", "7", "seed of every random draw (same seed ⇒ same frames)"),
    "Meta.clock": ("", '"virtual"', "virtual time (fast) or real time against a backend"),
    "Meta.epoch": ("local time", "2019-10-29T10:00:00", "scenario time 0 (naive local time)"),
    "Meta.duration": ("s", '"26h"', _DURATION),
    "Meta.needs_backend_api": ("", "false", ""),
    "PileDef.pile_no": ("", '"55031412782305"', "the pile number, 14 digits (protocol §2)"),
    "PileDef.profile": ("", '"sinexcel-dc@2090104"', "firmware profile `vendor-model@version`"),
    "PileDef.guns": ("", "2", "guns of the pile (default: the profile's)"),
    "PileDef.max_power_kw": ("kW", "120", "rated power (default: the profile's)"),
    "PileDef.meter_start_kwh": ("kWh", "12345.6789", "energy register at start"),
    "PileDef.meter_factor": ("", "1.02", "meter reading ÷ true energy (a miscalibrated meter)"),
    "PileDef.clock_offset_s": ("s", "-3600", "pile clock minus true time"),
    "PileDef.quirks": ("", "{ repeated_stop_loses_bill = { min_stops = 3 } }", ""),
    "PileDef.disable_quirks": ("", '["random_bill_loss"]', ""),
    "VehicleDef.name": ("", '"car"', "referred to by `plug` steps"),
    "VehicleDef.capacity_kwh": ("kWh", "60", "battery capacity"),
    "VehicleDef.initial_soc": ("%", "30", "state of charge at plug-in"),
    "VehicleDef.target_soc": ("%", "100", "the BMS ends the charge here"),
    "VehicleDef.max_power_kw": ("kW", "60", "most power the vehicle accepts"),
    "VehicleDef.cv_knee_soc": ("%", "80", "constant-voltage phase starts here (power tapers)"),
    "VehicleDef.handshake_s": ("s", "20", "BMS handshake length"),
    "VehicleDef.handshake_failure": ("", '"brm_timeout"', "the handshake fails this way"),
    "VehicleDef.vin": ("", '"LSVAU2180N2183294"', "vehicle identification number, 17 chars"),
    "UserDef.name": ("", '"alice"', "referred to by `card`, `app_start`, balance steps"),
    "UserDef.account": ("", '"13800000001"', ""),
    "UserDef.card": ("", '"00000000D14B0A54"', "physical card number, 16 hex digits"),
    "UserDef.logical_card": ("", '"1000000573"', "logical card number, up to 16 digits"),
    "UserDef.balance": ("yuan", "100.0", "account balance before the run"),
    "Step.at": ("s", '"+20m"', _TIME),
    "Step.do": ("", '"app_start"', "the action (see the list below)"),
    "Step.pile": ("", '"55031412782305"', "the pile (balance steps: may be left out)"),
    "Step.gun": ("", "1", "gun number"),
    "Step.vehicle": ("", '"car"', "`plug`: the vehicle from `[[vehicles]]`"),
    "Step.user": ("", '"alice"', "`card`, `app_start`, balance steps: the user"),
    "Step.repeat": ("", "3", ""),
    "Step.every": ("s", '"30s"', _DURATION + "; " + "between repeats"),
    "Step.target": ("", '"sinexcel-dc@2090404"', ""),
    "Step.energy_target_kwh": ("kWh", "10", ""),
    "Step.amount_target_yuan": ("yuan", "20", ""),
    "Step.time_target_min": ("min", "30", ""),
    "Step.yuan": ("yuan", "50", ""),
    "NetworkDef.pile": ("", '"55031412782305"', ""),
    "NetworkDef.outages": (
        "",
        '[["10:05", "10:20"], ["d2 08:00", "+30m"]]',
        _OUTAGES,
    ),
    "NetworkDef.latency_ms": ("ms", "80", "one-way latency"),
    "NetworkDef.jitter_ms": ("ms", "10", "latency spread"),
    "NetworkDef.loss": ("probability", "0.01", "share of chunks lost"),
    "NetworkDef.duplicate": ("probability", "0.01", "share of chunks sent twice"),
    "NetworkDef.corrupt": ("probability", "0.001", "share of chunks with a flipped byte"),
    "NetworkDef.frame_rules": (
        "",
        '[{ direction = "down", type = "0x40", action = "drop", times = 3 }]',
        "frame rules (`[[network.frame_rules]]`)",
    ),
    "NetworkDef.event_outages": (
        "",
        '[{ on = "0x13", after = "5m", duration = "8m" }]',
        "outages opened by protocol events (`[[network.event_outages]]`)",
    ),
    "FrameRuleDef.direction": ("", '"down"', "`up`: written by the pile; `down`: by the backend"),
    "FrameRuleDef.type": ("", '"0x40"', ""),
    "FrameRuleDef.action": ("", '"drop"', "what is done to the frames hit"),
    "FrameRuleDef.nth": ("", "1", ""),
    "FrameRuleDef.times": ("", "3", ""),
    "FrameRuleDef.delay": ("s", '"20s"', ""),
    "EventOutageDef.on": ("", '"0x13"', ""),
    "EventOutageDef.direction": ("", '"up"', "the direction of the frame that opens it"),
    "EventOutageDef.after": ("s", '"5m"', ""),
    "EventOutageDef.duration": ("s", '"8m"', "how long the link is down (both ways)"),
    "EventOutageDef.nth": ("", "0", ""),
    "Expectation.pile": ("", '"55031412782305"', "the pile"),
    "Expectation.gun": ("", "1", "the gun"),
    "Expectation.session": ("", "1", ""),
    "Expectation.codes": ("", "[9, 11]", ""),
    "Expectation.false_notifications": ("", '["charge_finished"]', "false notices expected"),
    "Expectation.billed": ("", "true", ""),
    "Expectation.min_overcharge_yuan": ("yuan", "5.0", "charged minus fair price at least"),
    "Expectation.balance_below_yuan": ("yuan", "0", ""),
    "Expectation.refused_starts": ("", "1", ""),
    "RateExpectation.codes": ("", '"9+11"', ""),
    "RateExpectation.rate": ("share", "0.11", "expected share of sessions (0–1)"),
    "RateExpectation.tolerance": ("share", "0.02", "allowed distance from `rate`"),
    "RateExpectation.contains": ("", "true", "count sessions whose codes contain `codes`"),
}

#: what each timeline action does (``Step.do``)
ACTIONS: dict[str, str] = {
    "plug": "plug `vehicle` into the gun",
    "unplug": "return the gun",
    "card": "swipe `user`'s card (start, or stop a running session)",
    "app_start": "start from the app through the backend (optional energy/amount/time target)",
    "app_stop": "stop from the app; `repeat` times, `every` seconds apart",
    "stop_button": "the pile's stop button",
    "charging_fault": "the power stage faults mid-charge: the pile stops with reason 0x75",
    "bms_stop": "the vehicle's BMS stops actively before its target; the pile ends the session",
    "emergency_stop": "press the emergency stop",
    "emergency_release": "release the emergency stop",
    "power_cut": "the pile loses power",
    "power_restore": "power comes back (the pile boots)",
    "reboot": "the pile reboots itself",
    "remote_reboot": "the backend orders a reboot",
    "upgrade": "remote firmware upgrade to `target` (a profile name)",
    "disable": "the backend disables the gun",
    "enable": "the backend enables the gun",
    "top_up": "add `yuan` to `user`'s balance (no pile needed)",
    "set_balance": "set `user`'s balance to `yuan` (no pile needed)",
}

TARIFF_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("model_no", "string or integer", "4 digits", '"0100"'),
    ("loss_ratio_pct", "integer", "%, default 0", "0"),
    (
        "rates",
        "table",
        "yuan/kWh: `band = [electricity, service]` for " + ", ".join(b.name.lower() for b in Band),
        "{ sharp = [1.2, 0.8], peak = [1.0, 0.8], flat = [0.7, 0.8], valley = [0.3, 0.8] }",
    ),
    (
        "periods",
        "array",
        '48 band numbers (0–3), or ranges `"HH:MM-HH:MM=band"` covering the day once',
        '["00:00-08:00=valley", "08:00-24:00=flat"]',
    ),
    (
        "occupancy",
        "table",
        "`free_minutes`, `rate_per_minute` (yuan), optional `cap` (yuan); absent: no fee",
        "{ free_minutes = 15, rate_per_minute = 0.8 }",
    ),
)


#: fields whose file type differs from the resolved model type (times are resolved on load)
FILE_TYPES: dict[str, str] = {
    "Meta.epoch": "local date-time",
    "Meta.duration": "duration",
    "Step.at": "time",
    "Step.every": "duration",
    "NetworkDef.outages": "array of [time, time]",
    "FrameRuleDef.delay": "duration",
    "EventOutageDef.after": "duration",
    "EventOutageDef.duration": "duration",
}

# --------------------------------------------------------------------------- field facts


def _notes(model: type[BaseModel], name: str) -> tuple[str, str, str]:
    key = f"{model.__name__}.{name}"
    if key not in FIELD_NOTES:
        raise KeyError(f"{key}: no entry in FIELD_NOTES (unit, example, description)")
    return FIELD_NOTES[key]


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is type(None):
        return "none"
    if origin is typing.Literal:
        return "string"
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(names))
    if origin is tuple:
        inner = _type_name(args[0]) if args else "any"
        return f"array of {inner}"
    if origin is dict:
        return "table"
    return {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
    }.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _allowed(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    annotation = info.annotation
    literal = [a for a in (annotation, *get_args(annotation)) if get_origin(a) is typing.Literal]
    if literal:
        return ", ".join(f"`{v}`" for v in get_args(literal[0]))
    parts: list[str] = []
    for meta in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
        for attr, label in (("min_length", "length ≥"), ("max_length", "length ≤")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{label} {value}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            parts.append(f"pattern `{pattern}`")
    key = f"{model.__name__}.{name}"
    extra = {
        "Expectation.codes": "anomaly codes 1–11",
        "Expectation.false_notifications": ", ".join(f"`{k.value}`" for k in NotificationKind),
        "VehicleDef.handshake_failure": ", ".join(f"`{v}`" for v in _HANDSHAKE),
        "PileDef.profile": "a shipped profile (below) or one from `--profile-dir`",
        "PileDef.quirks": "quirk names and parameters (below)",
        "PileDef.disable_quirks": "quirk names (below)",
        "Step.target": "a firmware profile name",
        "Meta.case": "`<source>_case#<n>`",
    }.get(key)
    if extra:
        parts.append(extra)
    return "; ".join(parts)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value is None or value is PydanticUndefined:
        return "none"
    return f"`{_toml(value)}`"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rule_docs() -> dict[str, str]:
    """The attribute docstrings of :class:`PlatformRules` (the text under each field)."""
    tree = ast.parse(inspect.getsource(PlatformRules))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


# --------------------------------------------------------------------------- markdown


def markdown() -> str:
    """The text of ``docs/scenario-format.md``."""
    out: list[str] = [
        "# The scenario format",
        "",
        "<!-- generated by `make docs` (python -m simrig.report.scenario_format) from",
        "     simrig/scenarios/schema.py; a test fails when it drifts: do not edit by hand -->",
        "",
        "A scenario is a TOML file. Tables in file order below; `[[name]]` tables repeat.",
        "Editors with a TOML language server (Taplo, Even Better TOML) complete and check",
        "fields with [`scenario.schema.json`](scenario.schema.json): put",
        "`#:schema ./docs/scenario.schema.json` (path relative to the file) on the first line.",
        "A bad file is refused with one line naming file, line and field:",
        "`case.toml:14: timeline[2].at: '25:00' is not a valid time of day`.",
        "",
        "Times (`at`, outage windows): " + _TIME + ". "
        "Durations (`duration`, `every`): " + _DURATION + ".",
        "The library (`simrig scenarios list`, `simrig/scenarios/library/*.toml`) has a",
        "worked example of every table.",
        "",
    ]
    for key, model, many, what in TABLES:
        header = f"[[{key}]]" if many else f"[{key}]"
        required = "." not in key and sc.Scenario.model_fields[key].is_required()
        out += [f"## `{header}`", "", f"{what[0].upper()}{what[1:]}"]
        out[-1] += " (required)." if required else " (optional)."
        if model.__doc__ and model is sc.RateExpectation:
            out[-1] += " " + " ".join(model.__doc__.split())
        out += [
            "",
            "| field | type | unit | default | allowed | meaning | example |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, info in model.model_fields.items():
            unit, example, note = _notes(model, name)
            meaning = info.description or note
            if not meaning:
                raise KeyError(f"{model.__name__}.{name}: no description")
            row = (
                f"`{name}`",
                FILE_TYPES.get(f"{model.__name__}.{name}") or _type_name(info.annotation),
                unit,
                _default(info),
                _allowed(model, name, info),
                meaning,
                f"`{name} = {example}`",
            )
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
        out.append("")
        if model is sc.Step:
            out += ["Actions (`do`):", "", "| action | what happens |", "|---|---|"]
            for action in get_args(sc.Action):
                out.append(f"| `{action}` | {_cell(ACTIONS[action])} |")
            out.append("")
    out += _platform_section() + _tariff_section() + _quirk_section() + _profile_section()
    return "\n".join(out).rstrip() + "\n"


def _platform_section() -> list[str]:
    docs = _rule_docs()
    hints = typing.get_type_hints(PlatformRules)
    out = [
        "## `[platform]`",
        "",
        "Rules of the embedded reference platform for this scenario (optional); the same",
        "keys as `[rules]` in `platform.toml`.",
        "",
        "| field | type | default | allowed | meaning | example |",
        "|---|---|---|---|---|---|",
    ]
    for f in dataclasses.fields(PlatformRules):
        hint = hints[f.name]
        allowed = (
            ", ".join(f"`{v}`" for v in get_args(hint))
            if get_origin(hint) is typing.Literal
            else ""
        )
        doc = docs.get(f.name)
        if not doc:
            raise KeyError(f"PlatformRules.{f.name}: no docstring")
        row = (
            f"`{f.name}`",
            _type_name(hint),
            f"`{_toml(f.default)}`",
            allowed,
            doc,
            f"`{f.name} = {_toml(f.default)}`",
        )
        out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return [*out, ""]


def _tariff_section() -> list[str]:
    out = [
        "## `[tariff]`",
        "",
        "The billing model pushed to the piles (optional; default: the built-in tariff).",
        "",
        "| field | type | unit / allowed | example |",
        "|---|---|---|---|",
    ]
    for name, kind, unit, example in TARIFF_KEYS:
        out.append(f"| `{name}` | {kind} | {_cell(unit)} | `{name} = {_cell(example)}` |")
    return [*out, ""]


def _quirk_section() -> list[str]:
    out = [
        "## Quirks (`[piles.quirks]`, `disable_quirks`)",
        "",
        "A pile's `quirks` table overrides (or adds) quirk parameters of its profile:",
        "`quirks = { repeated_stop_loses_bill = { min_stops = 3 } }`.",
        "",
        "| quirk | incident | parameter | kind | default | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(QUIRKS):
        cls = QUIRKS[name]
        if not cls.params:
            out.append(f"| `{name}` | {cls.case} | | | | |")
        for i, (pname, param) in enumerate(cls.params.items()):
            kind = param.kind + (f" ({', '.join(param.allowed)})" if param.allowed else "")
            row = (
                f"`{name}`" if i == 0 else "",
                cls.case if i == 0 else "",
                f"`{pname}`",
                kind,
                f"`{_toml(param.default)}`",
                param.doc,
            )
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return [*out, ""]


def _profile_section() -> list[str]:
    out = ["## Shipped firmware profiles (`profile`)", ""]
    out += [f"- `{p.name}`" for p in list_profiles()]
    out += ["", "More with `simrig firmware list` and `simrig firmware show NAME`.", ""]
    return out


# --------------------------------------------------------------------------- JSON Schema

_TIME_PATTERN = (
    r"^\s*(\+\s*\d+(\.\d+)?\s*(ms|s|m|min|h|d)?"
    r"|(d\d+\s+)?\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)\s*$"
)
_TIME_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "string",
            "pattern": _TIME_PATTERN,
        },
        {"type": "number"},
    ],
}
_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|min|h|d)?\s*$"},
        {"type": "number", "minimum": 0},
    ],
}


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the scenario *file* (times as written, not resolved)."""
    schema = sc.Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://simrig.invalid/scenario.schema.json"
    schema["title"] = "simrig scenario"
    schema["description"] = "A simrig scenario file (TOML). Generated: make docs."
    defs = schema["$defs"]
    for _, model, _, _ in TABLES:
        props = defs[model.__name__]["properties"]
        for name in model.model_fields:
            unit, _example, note = _notes(model, name)
            prop = props[name]
            prop.setdefault("description", note)
            if unit:
                prop["description"] = f"{prop['description']} [{unit}]"
    steps = defs["Step"]
    steps["properties"]["at"] = {**_TIME_SCHEMA, "description": _TIME.replace("`", "")}
    steps["properties"]["every"] = {
        **_DURATION_SCHEMA,
        "default": 10.0,
        "description": "seconds between repeats",
    }
    steps["required"] = [r for r in steps["required"] if r != "pile"]
    defs["Meta"]["properties"]["duration"] = {
        **_DURATION_SCHEMA,
        "default": 86400.0,
        "description": "run length after the epoch",
    }
    defs["Meta"]["properties"]["epoch"] = {
        "type": "string",
        "format": "date-time",
        "description": "scenario time 0 (TOML local date-time)",
    }
    defs["NetworkDef"]["properties"]["outages"] = {
        "type": "array",
        "description": "outage windows [start, end]; the end may be relative (+30m) to the start",
        "items": {
            "type": "array",
            "prefixItems": [_TIME_SCHEMA, _TIME_SCHEMA],
            "minItems": 2,
            "maxItems": 2,
        },
    }
    hints = typing.get_type_hints(PlatformRules)
    docs = _rule_docs()
    schema["properties"]["platform"] = {
        "type": "object",
        "description": "platform rule overrides",
        "additionalProperties": False,
        "properties": {
            f.name: _rule_schema(hints[f.name], f.default, docs.get(f.name, ""))
            for f in dataclasses.fields(PlatformRules)
        },
    }
    schema["properties"]["tariff"] = {
        "type": "object",
        "description": "the billing model pushed to the piles",
        "additionalProperties": False,
        "required": ["model_no", "rates", "periods"],
        "properties": {name: {"description": unit} for name, _, unit, _ in TARIFF_KEYS},
    }
    defs["PileDef"]["properties"]["quirks"] = {
        "type": "object",
        "description": "quirk parameters overriding (or adding to) the profile's",
        "additionalProperties": False,
        "properties": {
            name: {
                "type": "object",
                "description": f"{name} ({cls.case})",
                "additionalProperties": False,
                "properties": {
                    p: {"description": param.doc, "default": _json_default(param.default)}
                    for p, param in cls.params.items()
                },
            }
            for name, cls in sorted(QUIRKS.items())
        },
    }
    defs["PileDef"]["properties"]["disable_quirks"]["items"] = {"enum": sorted(QUIRKS)}
    defs["Expectation"]["properties"]["codes"]["items"] = {
        "type": "integer",
        "minimum": 1,
        "maximum": 11,
    }
    defs["Expectation"]["properties"]["false_notifications"]["items"] = {
        "enum": [k.value for k in NotificationKind]
    }
    defs["VehicleDef"]["properties"]["handshake_failure"]["anyOf"][0]["enum"] = list(_HANDSHAKE)
    defs["PileDef"]["properties"]["profile"]["examples"] = [p.name for p in list_profiles()]
    return schema


def _json_default(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _rule_schema(hint: Any, default: Any, doc: str) -> dict[str, Any]:
    if get_origin(hint) is typing.Literal:
        kind: dict[str, Any] = {"enum": list(get_args(hint))}
    else:
        kind = {"type": {bool: "boolean", int: "integer", float: "number"}.get(hint, "string")}
    return {**kind, "default": default, "description": doc}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) both files; 1 when a checked file is stale."""
    parser = argparse.ArgumentParser(prog="python -m simrig.report.scenario_format")
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in ((MARKDOWN_PATH, markdown()), (SCHEMA_PATH, schema_text())):
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)} (run: make docs)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
