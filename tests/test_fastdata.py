"""Generated ``__init__``s and evolvers build the same instances as the dataclass code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from simrig.fastdata import evolve, evolver, fast_init, updater
from simrig.platform.records import Session, SessionState
from simrig.protocol.ykc import MESSAGES, RealtimeData


@dataclass(frozen=True, slots=True)
class _Point:
    x: int
    y: int = 7
    label: str = "p"


@fast_init
@dataclass(frozen=True, slots=True)
class _FastPoint:
    x: int
    y: int = 7
    label: str = "p"


def _values(obj: object) -> tuple[object, ...]:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))  # type: ignore[arg-type]


def test_fast_init_keeps_the_signature_defaults_and_frozenness() -> None:
    assert _values(_FastPoint(1)) == _values(_Point(1))
    assert _values(_FastPoint(1, 2, label="q")) == _values(_Point(1, 2, "q"))
    assert _values(_FastPoint(y=3, x=4)) == _values(_Point(4, 3))
    assert _FastPoint(1) == _FastPoint(1) and _FastPoint(1) != _FastPoint(2)
    with pytest.raises(TypeError):
        _FastPoint()
    with pytest.raises(TypeError):
        _FastPoint(1, nope=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        _FastPoint(1).x = 2  # type: ignore[misc]


def test_every_message_class_has_the_fast_init_with_its_defaults() -> None:
    for cls in MESSAGES.values():
        assert cls.__init__.__code__.co_filename == f"<fast_init {cls.__name__}>"
    msg = RealtimeData(serial="1" * 32, pile_no="32010200000001", gun=1, energy=1.5)
    defaults = {f.name: f.default for f in dataclasses.fields(RealtimeData)}
    for name, default in defaults.items():
        given = {"serial": "1" * 32, "pile_no": "32010200000001", "gun": 1, "energy": 1.5}
        assert getattr(msg, name) == given.get(name, default)


def test_evolver_equals_replace() -> None:
    session = Session("1" * 32, "32010200000001", 1, "card", "acc")
    evolve = evolver(Session)
    changes = {"state": SessionState.CHARGING, "rt_samples": 3, "started_at": datetime(2020, 1, 1)}
    assert evolve(session, **changes) == dataclasses.replace(session, **changes)
    assert evolve(session) == session and evolve(session) is not session
    with pytest.raises(TypeError, match="no field"):
        evolve(session, colour="red")


def test_refuses_classes_it_cannot_build_exactly() -> None:
    @dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass(frozen=True, slots=True)
    class WithPostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="default factory"):
        fast_init(WithFactory)
    with pytest.raises(TypeError, match="not a slotted"):
        evolver(NoSlots)
    with pytest.raises(TypeError, match="__post_init__"):
        fast_init(WithPostInit)


def test_evolve_uses_replace_where_no_evolver_can_be_made() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        x: int
        y: int = 0

    assert evolve(NoSlots(1), y=2) == NoSlots(1, 2)
    session = Session("1" * 32, "32010200000001", 1, "card", "acc")
    assert evolve(session, rt_samples=2) == dataclasses.replace(session, rt_samples=2)


def test_updater_sets_the_named_fields_in_order() -> None:
    session = Session("1" * 32, "32010200000001", 1, "card", "acc")
    update = updater(Session, "rt_samples", "last_energy")
    assert update(session, 4, 1234) == dataclasses.replace(session, rt_samples=4, last_energy=1234)
    with pytest.raises(TypeError, match="bad or repeated"):
        updater(Session, "colour")
    with pytest.raises(TypeError, match="bad or repeated"):
        updater(Session, "rt_samples", "rt_samples")


@dataclass(frozen=True, slots=True)
class _Shadowing:
    """Fields named like the generated code's own names (the copy must read them off
    the object, never a local)."""

    o: int
    n: int
    get: str
    changes: tuple[int, ...]
    v0: float


def test_copies_keep_every_untouched_field_whatever_its_name() -> None:
    item = _Shadowing(1, 2, "three", (4,), 5.5)
    evolved = evolver(_Shadowing)(item, v0=6.5)
    assert _values(evolved) == (1, 2, "three", (4,), 6.5)
    updated = updater(_Shadowing, "get")(item, "four")
    assert _values(updated) == (1, 2, "four", (4,), 5.5)
    session = Session("1" * 32, "32010200000001", 2, "card", "acc", *range(100, 127))
    assert evolver(Session)(session) == session
    assert _values(updater(Session, "gun")(session, 1))[3:] == _values(session)[3:]
