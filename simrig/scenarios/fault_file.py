"""The proxy's fault file (TOML): the link model's faults for piles the rig does not run.

Times are seconds since the proxy started (``"90s"``, ``"5m"`` or a number; with the
proxy's ``--speed`` they are the piles' seconds). Every table may name a ``pile``; without
one it applies to every pile. The entries are the scenario's network vocabulary
(:class:`~simrig.scenarios.schema.NetworkDef`), so a pile's faults become the same
:class:`~simrig.link.Link` a scenario's network section gives::

    seed = 7                      # the byte faults' randomness (per pile and direction)

    [link]                        # byte faults, both directions
    latency_ms = 0
    jitter_ms = 0
    loss = 0.0
    duplicate = 0.0
    corrupt = 0.0

    [[outage]]                    # an absolute window
    start = "30s"
    end = "2m"

    [[event_outage]]              # zpd_case#12: 60 s after a session's first 0x13
    on = "0x13"
    after = "60s"
    duration = "14m"

    [[rule]]                      # withhold the backend's first three 0x40 (§4.12)
    direction = "down"
    type = "0x40"
    action = "drop"
    times = 3

Errors are one line: ``file:line: field: why``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from .loader import ScenarioError, _locate
from .schema import EventOutageDef, FrameRuleDef, NetworkDef, _Model, parse_duration

__all__ = ["FaultFile", "FaultFileError", "load_fault_file", "parse_fault_file"]

PILE = r"^\d{14}$"


class FaultFileError(ScenarioError):
    """A fault file that cannot be loaded (one line: ``file:line: field: why``)."""


class LinkFaults(_Model):
    """Byte faults of every pile's link (the proxy adds no latency by default)."""

    latency_ms: float = Field(default=0.0, ge=0)
    jitter_ms: float = Field(default=0.0, ge=0)
    loss: float = Field(default=0.0, ge=0, le=1)
    duplicate: float = Field(default=0.0, ge=0, le=1)
    corrupt: float = Field(default=0.0, ge=0, le=1)


class OutageWindow(_Model):
    start: float = Field(ge=0)
    end: float
    pile: str | None = Field(default=None, pattern=PILE)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> float:
        return parse_duration(v)

    @model_validator(mode="after")
    def _ordered(self) -> OutageWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PileRule(FrameRuleDef):
    pile: str | None = Field(default=None, pattern=PILE)


class PileEventOutage(EventOutageDef):
    pile: str | None = Field(default=None, pattern=PILE)


class FaultFile(_Model):
    """A validated fault file; :meth:`network_for` gives one pile's network section."""

    seed: int = 1
    link: LinkFaults = LinkFaults()
    outage: tuple[OutageWindow, ...] = ()
    event_outage: tuple[PileEventOutage, ...] = ()
    rule: tuple[PileRule, ...] = ()

    def network_for(self, pile_no: str) -> NetworkDef:
        """The faults that apply to ``pile_no`` (entries without a pile apply to all)."""

        def mine(item: Any) -> bool:
            return item.pile is None or item.pile == pile_no

        return NetworkDef(
            pile=pile_no,
            **self.link.model_dump(),
            outages=tuple((o.start, o.end) for o in self.outage if mine(o)),
            frame_rules=tuple(
                FrameRuleDef(**r.model_dump(exclude={"pile"})) for r in self.rule if mine(r)
            ),
            event_outages=tuple(
                EventOutageDef(**e.model_dump(exclude={"pile"}))
                for e in self.event_outage
                if mine(e)
            ),
        )


def parse_fault_file(text: str, *, source: str = "<faults>") -> FaultFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FaultFileError(f"{source}: TOML syntax: {exc}") from None
    try:
        return FaultFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = first["msg"].removeprefix("Value error, ")
        loc = tuple(first["loc"])
        if len(loc) == 1:  # a top-level key (seed, or one that does not belong)
            key = re.compile(rf"^\s*{re.escape(str(loc[0]))}\s*=")
            line = next((n for n, x in enumerate(text.splitlines(), 1) if key.match(x)), None)
            if line is not None:
                raise FaultFileError(f"{source}:{line}: {loc[0]}: {reason}") from None
        raise FaultFileError(_locate(text, source, loc, reason)) from None


def load_fault_file(path: str | Path) -> FaultFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FaultFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_fault_file(text, source=str(path))
