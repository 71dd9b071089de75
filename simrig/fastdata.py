"""Faster ``__init__`` and copy-with-changes for frozen, slotted dataclasses (hot paths).

A frozen dataclass ``__init__`` stores each field with ``object.__setattr__(self, name,
value)``, and :func:`dataclasses.replace` adds a Python loop over the fields on top. On
the per-frame paths of a station-month (one 0x13 every 15 s per charging gun) that is a
visible share of the run. The functions here are generated once per class and store the
fields through the slot descriptors directly: the same instances, about twice as fast.
A copy reads the fields it keeps as plain attributes (``o.name``: the interpreter's
specialised slot load, cheaper than calling the descriptor); only stores need the
descriptor, as a frozen class's ``__setattr__`` refuses them.

Only for classes without ``__post_init__``, default factories, ``init=False`` or
keyword-only fields; anything else is refused with a ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass, replace
from typing import Any, TypeVar

T = TypeVar("T")


def _plain_fields(cls: type) -> tuple[list[str], dict[str, Any]]:
    """Field names and a scope holding their slot setters/getters; refuse what we can't do."""
    if not (is_dataclass(cls) and "__slots__" in cls.__dict__):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has __post_init__")
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    names = []
    for i, f in enumerate(fields(cls)):
        if f.default_factory is not MISSING or not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: default factory, init=False or kw_only")
        names.append(f.name)
        scope[f"_set{i}"] = getattr(cls, f.name).__set__
        if f.default is not MISSING:
            scope[f"_default{i}"] = f.default
    return names, scope


def fast_init(cls: type[T]) -> type[T]:
    """Class decorator: replace the dataclass ``__init__`` by one with the same signature
    (fields by position or name, the same defaults) that fills the slots directly."""
    names, scope = _plain_fields(cls)
    params = ["self"]
    for i, name in enumerate(names):
        params.append(f"{name}=_default{i}" if f"_default{i}" in scope else name)
    body = "".join(f"    _set{i}(self, {name})\n" for i, name in enumerate(names)) or "    pass\n"
    src = f"def __init__({', '.join(params)}):\n{body}"
    exec(compile(src, f"<fast_init {cls.__name__}>", "exec"), scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def evolver(cls: type[T]) -> Callable[..., T]:
    """``evolve(obj, **changes)``: like :func:`dataclasses.replace` for ``cls``, without
    ``__post_init__`` or validation; an unknown field name is a ``TypeError``."""
    names, scope = _plain_fields(cls)
    scope["_names"] = frozenset(names)
    lines = [
        "def evolve(o, **changes):",
        "    if not changes.keys() <= _names:",
        "        unknown = sorted(changes.keys() - _names)",
        "        raise TypeError(f'{_cls.__name__} has no field {unknown}')",
        "    n = _new(_cls)",
        "    get = changes.get",
    ]
    lines += [f"    _set{i}(n, get({name!r}, o.{name}))" for i, name in enumerate(names)]
    lines.append("    return n")
    exec(compile("\n".join(lines) + "\n", f"<evolver {cls.__name__}>", "exec"), scope)
    evolve: Callable[..., T] = scope["evolve"]
    return evolve


def updater(cls: type[T], *changing: str) -> Callable[..., T]:
    """``update(obj, *values)``: a copy of ``obj`` with the ``changing`` fields set to
    ``values`` (in that order); a fixed-shape :func:`evolver` for one hot call site."""
    names, scope = _plain_fields(cls)
    unknown = sorted(set(changing) - set(names))
    if unknown or len(set(changing)) != len(changing):
        raise TypeError(f"{cls.__name__}: bad or repeated fields {unknown or list(changing)}")
    params = [f"v{changing.index(name)}" for name in changing]
    lines = [f"def update(o, {', '.join(params)}):", "    n = _new(_cls)"]
    for i, name in enumerate(names):
        value = f"v{changing.index(name)}" if name in changing else f"o.{name}"
        lines.append(f"    _set{i}(n, {value})")
    lines.append("    return n")
    exec(compile("\n".join(lines) + "\n", f"<updater {cls.__name__}>", "exec"), scope)
    update: Callable[..., T] = scope["update"]
    return update


_EVOLVERS: dict[type, Callable[..., Any]] = {}
_REPLACE: Callable[..., Any] = replace


def evolve(obj: T, **changes: Any) -> T:
    """:func:`dataclasses.replace`, through a generated :func:`evolver` where the class
    allows one (else ``replace`` itself)."""
    cls = type(obj)
    fn: Callable[..., Any] | None = _EVOLVERS.get(cls)
    if fn is None:
        try:
            fn = evolver(cls)
        except TypeError:
            fn = _REPLACE
        _EVOLVERS[cls] = fn
    result: T = fn(obj, **changes)
    return result
