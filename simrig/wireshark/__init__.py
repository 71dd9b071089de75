"""The Wireshark dissector for YKC: the shipped ``ykc.lua`` and its installation.

``ykc.lua`` is generated from the codec's message declarations by :mod:`.generate`.
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

#: Wireshark's personal Lua plugin folder on Linux/macOS
PERSONAL_PLUGINS = Path("~/.local/lib/wireshark/plugins")


def lua_path() -> Path:
    """The shipped, generated ``ykc.lua``."""
    return Path(str(files(__package__).joinpath("ykc.lua")))


def install(folder: Path | None = None) -> Path:
    """Copy ``ykc.lua`` into ``folder`` (default: the personal plugin folder); return the copy."""
    target_dir = (folder or PERSONAL_PLUGINS).expanduser()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "ykc.lua"
    shutil.copyfile(lua_path(), target)
    return target
