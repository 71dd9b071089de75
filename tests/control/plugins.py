"""Entry points for ``--backend-control MODULE:CALLABLE`` tests."""

from __future__ import annotations

from simrig.control import BaseControl


class RecordingControl(BaseControl):
    """Offers app start only; remembers what it was asked."""

    name = "the recording test control"

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.calls: list[tuple[object, ...]] = []

    def app_start(self, pile_no, gun, account, now, **targets):  # type: ignore[no-untyped-def]
        self.calls.append(("app_start", pile_no, gun, account, targets))
        return "R1"


def recording_control(backend: str) -> RecordingControl:
    return RecordingControl(backend)


def not_a_control(backend: str) -> str:
    return "nope"
