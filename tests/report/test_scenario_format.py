"""docs/scenario-format.md and docs/scenario.schema.json: generated from the code, never stale."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from simrig.report import scenario_format as fmt
from simrig.scenarios import library_names, library_path
from simrig.scenarios import schema as sc


def test_the_shipped_files_are_what_the_code_generates() -> None:
    assert fmt.MARKDOWN_PATH.read_text(encoding="utf-8") == fmt.markdown(), "run: make docs"
    assert fmt.SCHEMA_PATH.read_text(encoding="utf-8") == fmt.schema_text(), "run: make docs"
    assert fmt.main(["--check"]) == 0


def test_an_undocumented_field_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    notes = dict(fmt.FIELD_NOTES)
    del notes["Step.repeat"]
    monkeypatch.setattr(fmt, "FIELD_NOTES", notes)
    with pytest.raises(KeyError, match=r"Step\.repeat"):
        fmt.markdown()


def test_every_field_of_every_table_is_in_the_reference() -> None:
    text = fmt.markdown()
    for key, model, many, _ in fmt.TABLES:
        section = text.split(f"## `{'[[' if many else '['}{key}")[1].split("\n## ")[0]
        for name in model.model_fields:
            row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
            cells = [c.strip() for c in row.strip("|").split(" | ")]
            assert len(cells) == 7, row
            assert cells[1] and cells[3] and cells[5] and cells[6].startswith(f"`{name} = ")
    for action in ("app_stop", "set_balance", "upgrade"):
        assert f"| `{action}` |" in text
    assert (
        '| `fault_reading` | string | `"end_of_charge"` | `end_of_charge`, `wait_for_bill` |'
        in text
    )
    assert "`repeated_stop_loses_bill` | zshy_case#23 | `min_stops`" in text


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(fmt.SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_library_scenario_is_valid_under_the_json_schema() -> None:
    validator = _validator()
    for name in library_names():
        data = _jsonable(tomllib.loads(library_path(name).read_text(encoding="utf-8")))
        errors = [e.message for e in validator.iter_errors(data)]
        assert not errors, (name, errors)


def test_the_json_schema_refuses_what_the_loader_refuses() -> None:
    validator = _validator()
    base = _jsonable(tomllib.loads(library_path("basic_card_session").read_text(encoding="utf-8")))
    broken = [
        {**base, "meta": {**base["meta"], "sede": 3}},
        {**base, "timeline": [{**base["timeline"][0], "do": "plugin"}]},
        {**base, "timeline": [{**base["timeline"][0], "at": "25h:00"}]},
        {**base, "piles": [{**base["piles"][0], "quirks": {"no_such_quirk": {}}}]},
        {**base, "platform": {"balance_stop": "yes"}},
        {**base, "expect": [{**base["expect"][0], "codes": [12]}]},
    ]
    for data in broken:
        assert list(validator.iter_errors(data)), data


_BASE: dict[type[BaseModel], dict[str, Any]] = {
    sc.Meta: {"name": "x"},
    sc.PileDef: {"pile_no": "55031412782305", "profile": "generic-dc@1.0"},
    sc.VehicleDef: {"name": "car"},
    sc.UserDef: {"name": "alice"},
    sc.Step: {"at": 0.0, "do": "plug", "pile": "55031412782305"},
    sc.NetworkDef: {},
    sc.FrameRuleDef: {"direction": "down", "type": 0x40, "action": "drop"},
    sc.EventOutageDef: {"on": 0x13, "duration": 60.0},
    sc.Expectation: {"pile": "55031412782305"},
    sc.RateExpectation: {"codes": "1", "rate": 0.1},
}


@pytest.mark.parametrize("key", sorted(fmt.FIELD_NOTES))
def test_every_example_in_the_reference_is_accepted(key: str) -> None:
    model_name, name = key.split(".")
    model = next(m for _, m, _, _ in fmt.TABLES if m.__name__ == model_name)
    value = tomllib.loads(f"{name} = {fmt.FIELD_NOTES[key][1]}")[name]
    epoch = datetime(2019, 10, 29)
    if key == "Step.at":
        value = sc.parse_at(value, epoch, 0.0)
    elif key == "Step.every":
        value = sc.parse_duration(value)
    elif key == "NetworkDef.outages":
        value = [
            (sc.parse_at(a, epoch, 0), sc.parse_at(b, epoch, sc.parse_at(a, epoch, 0)))
            for a, b in value
        ]
    model.model_validate({**_BASE[model], name: value})
