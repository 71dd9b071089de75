"""Backend control: what a pile cannot do itself (app start/stop, balances, provisioning).

``load_control(spec, backend)`` turns ``--backend-control`` into a
:class:`BackendControl`: a ``*.toml`` HTTP template (:mod:`simrig.control.template`) or a
``package.module:callable`` entry point called as ``callable(backend)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .base import (
    OPERATIONS,
    PROVISIONING,
    BackendControl,
    BaseControl,
    ControlError,
    ControlUnreachable,
    NoControl,
    Site,
    SitePile,
    SiteUser,
    UnsupportedOperation,
    require_operations,
)

__all__ = [
    "OPERATIONS",
    "PROVISIONING",
    "BackendControl",
    "BaseControl",
    "ControlError",
    "ControlUnreachable",
    "NoControl",
    "Site",
    "SitePile",
    "SiteUser",
    "UnsupportedOperation",
    "load_control",
    "require_operations",
]


def load_control(spec: str, backend: str = "") -> BackendControl:
    """``control.toml`` (an HTTP template) or ``module:callable`` → a control.

    Raises :class:`~simrig.control.template.TemplateError` (a broken template: file,
    line, field) or :class:`ControlError` (an entry point that cannot be loaded)."""
    if spec.endswith(".toml") or Path(spec).is_file():
        from .template import HttpTemplateControl, load_template

        return HttpTemplateControl(load_template(spec))
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ControlError(f"--backend-control {spec}: expected FILE.toml or MODULE:CALLABLE")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ControlError(f"--backend-control {spec}: {exc}") from None
    control = factory(backend)
    if not isinstance(control, BackendControl):
        raise ControlError(
            f"--backend-control {spec}: returned {type(control).__name__}, not a BackendControl "
            "(subclass simrig.control.BaseControl)"
        )
    return control
