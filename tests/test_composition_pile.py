"""The pile firmware is a real composition (issue 10, items 1 and 3), checked from source.

* No part under ``simrig/firmware_models/`` holds the whole :class:`PileFirmware`: no
  part imports or annotates it, none stores a parameter of that type, and the pile
  never hands itself (or one of its own methods) to a part.
* Each quirk primitive of the catalogue is consulted at exactly one hook: its name is
  read in exactly one function, that function is a ``@hook`` of ``hooks.py`` whose
  docstring cites the primitive's (first) case id, and every hook has exactly one call
  site. (Presets are data: they expand into primitives and are read by no hook.)
* Frames are routed per class (``@on``), with no module-global handler table.

Each checker is also run on a small bad source below, to show it can fail.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from simrig.firmware_models.hooks import HOOKS
from simrig.firmware_models.quirks import PRIMITIVES

PACKAGE = Path(__file__).resolve().parent.parent / "simrig" / "firmware_models"
WHOLE = "PileFirmware"


def _sources() -> dict[str, str]:
    """Every module of the package but ``__init__`` (it only re-exports)."""
    return {p.name: p.read_text() for p in sorted(PACKAGE.glob("*.py")) if p.name != "__init__.py"}


# --------------------------------------------------------------------------- back-references


def back_references(name: str, source: str) -> list[str]:
    """Places in module ``name`` where a part could reach the whole pile."""
    tree = ast.parse(source)
    found: list[str] = []
    if name != "pile.py":
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(a.name == WHOLE for a in node.names):
                found.append(f"{name}:{node.lineno}: imports {WHOLE}")
            if isinstance(node, ast.Name) and node.id == WHOLE:
                found.append(f"{name}:{node.lineno}: names {WHOLE}")
            # a string annotation ("PileFirmware", "list[PileFirmware]"), not prose
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and (node.value.strip() == WHOLE or f"[{WHOLE}" in node.value)
            ):
                found.append(f"{name}:{node.lineno}: annotates {WHOLE}")
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                        and target.attr.lstrip("_") in {"pile", "firmware", "owner", "parent"}
                    ):
                        found.append(f"{name}:{node.lineno}: stores self.{target.attr}")
        return found
    # the whole: it must not pass itself, or a method of its own, to anything
    whole = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == WHOLE)
    own = {f.name for f in whole.body if isinstance(f, ast.FunctionDef)}
    for node in ast.walk(whole):
        if not isinstance(node, ast.Call):
            continue
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(arg, ast.Name) and arg.id == "self":
                found.append(f"{name}:{node.lineno}: passes self")
            if (
                isinstance(arg, ast.Attribute)
                and isinstance(arg.value, ast.Name)
                and arg.value.id == "self"
                and arg.attr in own
            ):
                found.append(f"{name}:{node.lineno}: passes its method {arg.attr}")
    return found


@pytest.mark.parametrize("name", sorted(_sources()))
def test_no_part_holds_the_whole_pile(name):
    assert back_references(name, _sources()[name]) == []


def test_the_back_reference_check_can_fail():
    part = (
        "from .pile import PileFirmware\n"
        "class Part:\n"
        "    def __init__(self, pile: 'PileFirmware') -> None:\n"
        "        self._pile = pile\n"
    )
    assert len(back_references("part.py", part)) >= 3
    whole = (
        "class PileFirmware:\n"
        "    def __init__(self):\n"
        "        self._a = Part(self)\n"
        "        self._b = Part(on_tick=self._poll)\n"
        "    def _poll(self): ...\n"
    )
    assert len(back_references("pile.py", whole)) == 2


# --------------------------------------------------------------------------- quirks at hooks


def _first_case(case: str) -> str:
    return case.split(",")[0].strip()


def quirk_sites(sources: dict[str, str], quirks: dict[str, str]) -> dict[str, list[str]]:
    """Quirk name → the functions (``module:function``) that read it."""
    sites: dict[str, list[str]] = {q: [] for q in quirks}
    for name, source in sources.items():
        if name == "quirks.py":
            continue
        tree = ast.parse(source)
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Attribute) and node.attr in sites:
                    sites[node.attr].append(f"{name}:{fn.name}")
    return sites


def hook_problems(sources: dict[str, str], quirks: dict[str, str]) -> list[str]:
    """Every way the sources break "each quirk acts at exactly one hook"."""
    problems: list[str] = []
    hooks: dict[str, ast.FunctionDef] = {}
    for node in ast.walk(ast.parse(sources["hooks.py"])):
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "hook" for d in node.decorator_list
        ):
            hooks[node.name] = node
    for quirk, sites in quirk_sites(sources, quirks).items():
        # a function nested in a hook is reported under both: count distinct innermost
        if len(sites) != 1:
            problems.append(f"{quirk}: read at {sites or 'no hook'}")
            continue
        module, fn = sites[0].split(":")
        if module != "hooks.py" or fn not in hooks:
            problems.append(f"{quirk}: read in {sites[0]}, not in a @hook")
            continue
        doc = ast.get_docstring(hooks[fn]) or ""
        if quirks[quirk] not in doc:
            problems.append(f"{quirk}: hook {fn} does not cite {quirks[quirk]}")
    calls: Counter[str] = Counter()
    for source in sources.values():
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in hooks
            ):
                calls[node.func.attr] += 1
    for fn in hooks:
        if calls[fn] != 1:
            problems.append(f"hook {fn}: {calls[fn]} call sites (want exactly 1)")
    return problems


def test_each_quirk_acts_at_exactly_one_hook():
    quirks = {name: _first_case(cls.case) for name, cls in PRIMITIVES.items()}
    assert hook_problems(_sources(), quirks) == []


def test_each_quirk_names_its_hook():
    """The catalogue's ``Decision point:`` is the hook the source shows."""
    sites = quirk_sites(_sources(), {name: "" for name in PRIMITIVES})
    for name, cls in PRIMITIVES.items():
        [site] = sites[name]
        assert f"Decision point: hook ``{site.split(':')[1]}``" in (cls.__doc__ or ""), name


def test_every_hook_is_declared_and_consulted():
    sites = quirk_sites(_sources(), {name: "" for name in PRIMITIVES})
    used = {site.split(":")[1] for found in sites.values() for site in found}
    assert set(HOOKS) == used  # no hook without a quirk, no quirk outside a hook
    assert len(PRIMITIVES) == 16 and len(HOOKS) == 13


def test_the_hook_check_can_fail():
    sources = _sources()
    quirks = {name: _first_case(cls.case) for name, cls in PRIMITIVES.items()}
    # offline_behaviour consulted a second time, outside its hook (as it once was)
    sources["sessions.py"] += "\n\ndef offline_again(q):\n    return q.offline_behaviour is None\n"
    # a hook called from a second place
    sources["bills.py"] += "\n\ndef twice(h, s):\n    return h.bill_upload(s, 0.0)\n"
    # a hook whose docstring lost its case id
    sources["hooks.py"] = sources["hooks.py"].replace("bill_loss (zpd_case#7)", "x")
    problems = hook_problems(sources, quirks)
    assert any(p.startswith("offline_behaviour: read at") for p in problems)
    assert any(p.startswith("hook bill_upload: 2 call sites") for p in problems)
    assert any("does not cite zpd_case#7" in p for p in problems)


# --------------------------------------------------------------------------- routing


def global_tables(name: str, source: str) -> list[str]:
    """Module-level dicts keyed by frame classes (a global handler registry)."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            label = ast.unparse(target)
            if any(w in label.upper() for w in ("HANDLER", "ROUTE", "DISPATCH")):
                found.append(f"{name}:{node.lineno}: {label}")
    return found


@pytest.mark.parametrize("name", sorted(_sources()))
def test_no_module_global_handler_registry(name):
    assert global_tables(name, _sources()[name]) == []


def test_the_registry_check_can_fail():
    assert global_tables("pile.py", "_HANDLERS = {LoginReply: f}\n")


def test_frames_are_routed_per_class_with_one_decorator():
    from simrig.firmware_models.bills import BillStore
    from simrig.firmware_models.link_session import LinkSession
    from simrig.firmware_models.maintenance import Maintenance
    from simrig.firmware_models.orders import Orders
    from simrig.firmware_models.pile import PileFirmware

    classes = (PileFirmware, LinkSession, BillStore, Orders, Maintenance)
    seen = Counter(kind for cls in classes for kind in cls.routes)
    assert seen and max(seen.values()) == 1  # each frame type has one handler
    assert len(seen) == 15
