"""The pure core imports no I/O, clock or randomness module (design.md principle 1)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "simrig"
FORBIDDEN = {
    "socket",
    "asyncio",
    "serial",
    "simpy",
    "time",
    "random",
    "selectors",
    "threading",
    "subprocess",
    "sqlite3",
    "os",
    "io",
    "uvloop",
    "fastapi",
    "uvicorn",
    "httpx",
}
CORE = [
    "protocol",
    "domain",
    "firmware_models",
    "platform",
    "oracle",
    "capture/record.py",
    "billing",
    "scenarios",
    "plant",
    "link.py",
    "link_frames.py",
    "fastdata.py",
    "stimuli.py",
    "heartbeat_plan.py",
    "endpoint.py",
    "speed_seam.py",
    "replay",
]
#: pure modules of the outer layers (no I/O or clock, though they may use their layer)
PURE_OUTSIDE_CORE = ["sim/time_mapping.py", "sim/sampling.py"]
#: the outer layers: the core never imports them (it is driven, it does not drive)
OUTER = {"simrig.adapters", "simrig.sim", "simrig.cli", "simrig.report", "simrig.testing"}
#: modules of the core allowed to use randomness *types* only via injection
ALLOWED_TYPING_ONLY = {"random"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _typing_only(path: Path) -> set[str]:
    """Modules imported only under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import):
                    names |= {a.name.split(".")[0] for a in sub.names}
                elif isinstance(sub, ast.ImportFrom) and sub.module:
                    names.add(sub.module.split(".")[0])
    return names


def _core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        target = ROOT / entry
        if target.is_dir():
            files += sorted(target.rglob("*.py"))
        elif target.exists():
            files.append(target)
    return files


@pytest.mark.parametrize(
    "path",
    _core_files() + [ROOT / entry for entry in PURE_OUTSIDE_CORE],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_core_module_imports_no_io(path):
    bad = (_imports(path) & FORBIDDEN) - (_typing_only(path) & ALLOWED_TYPING_ONLY)
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_protocol_package_is_covered():
    assert any("protocol" in str(p) for p in _core_files())


def _simrig_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {n for n in names if n.startswith("simrig.")}


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_no_outer_layer(path):
    bad = {
        name
        for name in _simrig_imports(path)
        if any(name == outer or name.startswith(outer + ".") for outer in OUTER)
    }
    assert not bad, f"{path.relative_to(ROOT)} imports the outer layer {sorted(bad)}"


def test_every_core_entry_exists():
    missing = [entry for entry in CORE + PURE_OUTSIDE_CORE if not (ROOT / entry).exists()]
    assert not missing
