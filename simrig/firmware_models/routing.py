"""Frame routing per class (design.md "Route handlers with decorators"): a part marks its
handlers ``@on(Message, ...)``; ``__init_subclass__`` collects them per class. There is
no module-global registry: the pile asks each part for its bound handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from simrig.protocol.ykc import Message

__all__ = ["Handler", "Router", "on"]

#: a frame handler: ``(message, sequence number, now)``, plain and synchronous
Handler = Callable[[Any, int, float], None]
_F = TypeVar("_F", bound=Callable[..., None])


def on(*types: type[Message]) -> Callable[[_F], _F]:
    """Mark a method as the handler of the frame types ``types``."""

    def mark(fn: _F) -> _F:
        fn.__on__ = types  # type: ignore[attr-defined]
        return fn

    return mark


class Router:
    """Base of a part that handles frames; ``routes`` maps frame type → method name."""

    routes: ClassVar[dict[type[Message], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes: dict[type[Message], str] = {}
        for base in reversed(cls.__mro__[1:]):
            routes.update(getattr(base, "routes", {}))
        for name, fn in cls.__dict__.items():
            for kind in getattr(fn, "__on__", ()):
                if kind in routes and routes[kind] != name:
                    raise TypeError(f"{cls.__name__}: two handlers for {kind.__name__}")
                routes[kind] = name
        cls.routes = routes

    def handlers(self) -> dict[type[Message], Handler]:
        """This part's bound handlers by frame type."""
        return {kind: getattr(self, name) for kind, name in self.routes.items()}
