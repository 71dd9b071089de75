"""The platform is a composition of parts, checked from the source (issue 10 items 2-4).

* every rule of :class:`PlatformRules` is read by exactly one part module, at the
  methods its docstring names after ``Acts:``;
* no part holds, annotates or imports the whole :class:`PlatformCore`, and the core
  hands no part itself;
* frame handlers are routed per class (no module-global registry), each frame type once;
* every order state change goes through the transition table;
* the speed hooks live in the part ``core.speed`` returns, not on the core.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from simrig.platform import MemoryRepository, PlatformCore, PlatformRules, SessionState
from simrig.platform.checks import CheckLimits
from simrig.platform.routing import FrameHandlers, on, route_table
from simrig.platform.sessions import TRANSITIONS, InvalidTransition, Trigger, advance, to_dot
from simrig.protocol.ykc import Heartbeat, Login

PLATFORM = Path(__file__).resolve().parent.parent / "simrig" / "platform"
#: modules that are not parts: the composition, the rules themselves, data and loaders
NOT_PARTS = {"__init__", "core", "rules", "config", "demo", "records", "repository"}
PARTS = sorted(p for p in PLATFORM.glob("*.py") if p.stem not in NOT_PARTS)
RULES = [f.name for f in dataclasses.fields(PlatformRules)]
LIMIT_RULES = [f.name for f in dataclasses.fields(CheckLimits) if f.name in RULES]


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _functions(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """(qualified name, node) of every function and method, nested classes included."""
    out: list[tuple[str, ast.AST]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((f"{prefix}{child.name}", child))
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return out


def _is_rules(node: ast.expr) -> bool:
    """``rules``, ``self.rules`` or ``self._rules``."""
    if isinstance(node, ast.Name):
        return node.id == "rules"
    return isinstance(node, ast.Attribute) and node.attr in {"rules", "_rules"}


def _readers(name: str, *, of_rules: bool) -> dict[str, set[str]]:
    """module → functions reading ``rules.<name>`` (or, ``of_rules=False``, ``x.<name>``)."""
    found: dict[str, set[str]] = {}
    for path in PARTS:
        for qualname, fn in _functions(_tree(path)):
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr == name
                    and isinstance(node.ctx, ast.Load)
                    and (_is_rules(node.value) or not of_rules)
                ):
                    found.setdefault(path.stem, set()).add(qualname)
    return found


def _rule_docs() -> dict[str, str]:
    """Each rule's attribute docstring (the string right after the field)."""
    tree = _tree(PLATFORM / "rules.py")
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "PlatformRules"]
    docs: dict[str, str] = {}
    for field_node, doc in zip(cls.body, cls.body[1:], strict=False):
        if (
            isinstance(field_node, ast.AnnAssign)
            and isinstance(field_node.target, ast.Name)
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
        ):
            docs[field_node.target.id] = str(doc.value.value)
    return docs


def _acts(doc: str) -> set[str]:
    """The ``module.Class.method`` references after ``Acts:``."""
    match = re.search(r"Acts:(.*)", doc, re.S)
    assert match, "no 'Acts:' in the docstring"
    return set(re.findall(r"\b([a-z_]+(?:\.[A-Za-z_]+)+)\b", match.group(1)))


@pytest.mark.parametrize("name", [n for n in RULES if n not in LIMIT_RULES])
def test_each_rule_is_read_by_one_part_where_its_docstring_says(name):
    readers = _readers(name, of_rules=True)
    assert len(readers) == 1, f"rules.{name} is read in {sorted(readers) or 'no part'}"
    ((module, functions),) = readers.items()
    cited = _acts(_rule_docs()[name])
    assert cited == {f"{module}.{fn}" for fn in functions}


@pytest.mark.parametrize("name", LIMIT_RULES)
def test_each_limit_rule_acts_only_in_the_checks(name):
    """The check thresholds reach the checks as one CheckLimits, built in one place."""
    assert not _readers(name, of_rules=True), f"rules.{name} read outside the checks"
    readers = _readers(name, of_rules=False)
    assert set(readers) == {"checks"}, f"{name} is read in {sorted(readers)}"
    cited = _acts(_rule_docs()[name])
    assert cited == {f"checks.{fn}" for fn in readers["checks"]}


def test_check_limits_are_built_by_one_part():
    readers = _readers("check_limits", of_rules=True)
    assert readers == {"settlement": {"Settlement.__init__"}}


def test_every_rule_has_a_docstring():
    assert set(_rule_docs()) == set(RULES)


def _names(tree: ast.Module) -> set[str]:
    """Every identifier, attribute name, imported name and string constant of a module."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name)
            names.add(node.asname or "")
        elif isinstance(node, ast.ImportFrom):
            names.add(f"{'.' * node.level}{node.module or ''}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(re.findall(r"\w+", node.value) if len(node.value) < 80 else ())
    return names


@pytest.mark.parametrize("path", PARTS, ids=lambda p: p.stem)
def test_no_part_knows_the_whole_core(path):
    names = _names(_tree(path))
    assert "PlatformCore" not in names, f"{path.stem} stores or annotates a PlatformCore"
    assert not names & {".core", "simrig.platform.core", "simrig.platform"}, (
        f"{path.stem} imports the composition"
    )


def test_the_core_hands_no_part_itself():
    tree = _tree(PLATFORM / "core.py")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            args = [*node.args, *(k.value for k in node.keywords)]
            assert not any(isinstance(a, ast.Name) and a.id == "self" for a in args), (
                f"core.py line {node.lineno} passes self"
            )


def test_no_module_global_route_registry():
    for path in [*PARTS, PLATFORM / "core.py"]:
        for node in _tree(path).body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            mapping = isinstance(value, ast.Dict | ast.DictComp) or (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id in {"dict", "defaultdict"}
            )
            for target in targets if mapping else []:
                assert not (
                    isinstance(target, ast.Name) and re.search("ROUTE|HANDLER", target.id.upper())
                ), f"{path.stem}.{getattr(target, 'id', '?')} is a module-global registry"


def test_routes_are_collected_per_class():
    class A(FrameHandlers):
        @on(Login)
        def login(self, conn, frame, now):
            pass

    class B(FrameHandlers):
        @on(Heartbeat)
        def beat(self, conn, frame, now):
            pass

    class C(FrameHandlers):
        @on(Login)
        def again(self, conn, frame, now):
            pass

    assert A.routes == {Login: "login"} and B.routes == {Heartbeat: "beat"}
    assert FrameHandlers.routes == {}
    assert set(route_table(A(), B())) == {Login, Heartbeat}
    with pytest.raises(TypeError, match="routed twice"):
        route_table(A(), C())


def test_every_frame_type_is_routed_once_and_each_handler_cites_the_protocol():
    parts = [cls for cls in _subclasses(FrameHandlers) if cls.__module__.startswith(PACKAGE)]
    seen: dict[type, str] = {}
    for cls in parts:
        for message_type, name in cls.routes.items():
            assert message_type not in seen, f"{message_type.__name__}: {seen[message_type]}"
            seen[message_type] = f"{cls.__name__}.{name}"
            doc = getattr(cls, name).__doc__ or ""
            assert "§" in doc, f"{cls.__name__}.{name} cites no protocol section"
    assert {cls.__name__ for cls in seen} == {
        "Login",
        "Heartbeat",
        "ModelVerify",
        "ModelRequest",
        "SetModelReply",
        "WorkParamsReply",
        "CardStart",
        "ParallelCardStart",
        "RemoteStartReply",
        "ParallelRemoteStartReply",
        "RealtimeData",
        "DemandOutput",
        "BmsInfo",
        "BalanceUpdateReply",
        "TransactionRecord",
        "TransactionRecordV17",
    }


PACKAGE = "simrig.platform."


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_transition_table_covers_every_state_and_is_strict():
    assert set(TRANSITIONS) == set(SessionState)
    assert all(isinstance(t, SessionState) for row in TRANSITIONS.values() for t in row.values())
    assert advance(SessionState.CHARGING, Trigger.STOP_SENT) is SessionState.STOPPING
    with pytest.raises(InvalidTransition):
        advance(SessionState.FINISHED, Trigger.CHARGING_SEEN)
    assert '"starting" -> "charging" [label="charging_seen"]' in to_dot()
    # the stored strings stay what they were
    assert [s.value for s in SessionState] == [
        "starting",
        "charging",
        "stopping",
        "finished",
        "cancelled",
    ]


def _state_values(fn: ast.AST) -> list[ast.expr]:
    """Values written to a session's ``state``: ``state=`` keywords, ``x["state"] = ``."""
    values: list[ast.expr] = []
    for node in ast.walk(fn):
        if isinstance(node, ast.keyword) and node.arg == "state":
            values.append(node.value)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value == "state"
                ):
                    values.append(node.value)
    return values


def _is_advance(value: ast.expr, fn: ast.AST) -> bool:
    def call(v: ast.AST) -> bool:
        return isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "advance"

    if call(value):
        return True
    if isinstance(value, ast.Name):  # a local bound to advance(...)
        binds = [
            n.value
            for n in ast.walk(fn)
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == value.id for t in n.targets)
        ]
        return bool(binds) and all(call(v) for v in binds)
    return False


def test_every_state_change_goes_through_the_table():
    writes = 0
    for path in PARTS:
        for qualname, fn in _functions(_tree(path)):
            for value in _state_values(fn):
                writes += 1
                assert _is_advance(value, fn), (
                    f"{path.stem}.{qualname} line {value.lineno} sets a state outside advance()"
                )
    assert writes >= 5


SPEED = [
    "assume_heartbeats",
    "retire_heartbeat_plan",
    "note_elided_heartbeats",
    "realtime_is_noop",
    "idle_until",
]


def test_speed_hooks_live_behind_the_seam():
    core = PlatformCore(MemoryRepository(), PlatformRules())
    assert core.speed is not core
    for name in SPEED:
        assert callable(getattr(core.speed, name))
        assert not hasattr(core, name), f"PlatformCore.{name} is back on the core"
