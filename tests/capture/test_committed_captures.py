"""The committed captures are what the tool builds today, byte for byte (same scenario and
seed ⇒ same bytes; ``make captures`` rebuilds them after a change on purpose)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_captures", ROOT / "tools/make_captures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_incident_captures_are_in_sync(tmp_path: Path) -> None:
    tool = _tool()
    built = tool.incident_captures(tmp_path)
    assert [p.name for p in built] == ["zpd_case_12.pcapng", "zpd_case_12.jsonl"]
    for path in built:
        committed = ROOT / "captures" / path.name
        assert committed.read_bytes() == path.read_bytes(), f"run `make captures`: {path.name}"
