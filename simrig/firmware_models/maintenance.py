"""Operator commands that are not about one order: work parameters (0x52/0x51, §4.17),
time sync (0x56/0x55, §4.14) and remote upgrade (0x94/0x93, §4.16). The reboot they may
lead to is the pile's own (it touches every part)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from simrig.protocol.ykc import (
    Confirm,
    TimeSync,
    TimeSyncReply,
    Upgrade,
    UpgradeReply,
    UpgradeResult,
    WorkParams,
    WorkParamsReply,
    WorkState,
)

from .phases import Phase
from .profile import FirmwareProfile, ProfileError
from .records import PendingUpgrade
from .routing import Router, on

if TYPE_CHECKING:
    import random

    from simrig.plant import PhysicalPile

    from .clock import PileClock
    from .image import Image
    from .records import GunRecord
    from .sessions import SessionMachine
    from .wire import Wire

__all__ = ["Maintenance"]

_INF = math.inf


class Maintenance(Router):
    """Work parameters, clock setting, upgrade download; a reboot pending until idle."""

    def __init__(
        self,
        wire: Wire,
        image: Image,
        plant: PhysicalPile,
        clock: PileClock,
        sessions: SessionMachine,
        guns: list[GunRecord],
        rng: random.Random,
        resolve: Callable[[str], FirmwareProfile],
    ) -> None:
        self._wire = wire
        self._image = image
        self._plant = plant
        self._clock = clock
        self._sessions = sessions
        self._guns = guns
        self._rng = rng
        self._resolve = resolve
        #: a 0x92 "when idle" reboot waits for the guns
        self.reboot_pending = False
        self.upgrade: PendingUpgrade | None = None

    @on(WorkParams)
    def _on_work_params(self, msg: WorkParams, seq: int, now: float) -> None:
        """0x52 working parameters → 0x51 (§4.17): enable, power limit."""
        ok = 30 <= msg.max_power_pct <= 100
        if ok:
            enabled = self._sessions.enabled = msg.enable == WorkState.ALLOWED
            self._plant.set_power_limit_percent(now, msg.max_power_pct)
            self._wire.event(now, "work_params", None, {"enabled": enabled})
        result = Confirm.OK if ok else Confirm.FAILED
        self._wire.send(WorkParamsReply(pile_no=self._wire.pile_no, result=result), now, seq)

    @on(TimeSync)
    def _on_time_sync(self, msg: TimeSync, seq: int, now: float) -> None:
        """0x56 time sync → 0x55 (§4.14): re-anchor the clock, re-time the half-hours."""
        if msg.time is not None:
            delta = self._clock.sync(now, msg.time)
            self._wire.event(now, "clock_set", None, {"delta_s": round(delta, 3)})
            for g in self._guns:
                if g.session is not None and g.session.phase is Phase.CHARGING:
                    g.next_boundary = self._clock.next_half_hour(now)
        self._wire.send(TimeSyncReply(pile_no=self._wire.pile_no, time=msg.time), now, seq)

    @on(Upgrade)
    def _on_upgrade(self, msg: Upgrade, seq: int, now: float) -> None:
        """0x94 remote upgrade → 0x93 (§4.16): same family only, then download."""
        pile_no = self._wire.pile_no
        profile = self._image.profile

        def reply(status: UpgradeResult) -> None:
            self._wire.send(UpgradeReply(pile_no=pile_no, status=status), now, seq)

        if msg.pile_no != pile_no:
            reply(UpgradeResult.PILE_ERROR)
            return
        if not profile.remote_upgrade:
            self._wire.event(now, "upgrade_refused", None, {"why": "no remote upgrade"})
            reply(UpgradeResult.MODEL_MISMATCH)
            return
        try:
            target = self._resolve(msg.path.strip().strip("\x00"))
        except ProfileError as exc:
            self._wire.event(now, "upgrade_refused", None, {"why": str(exc)})
            reply(UpgradeResult.MODEL_MISMATCH)
            return
        if target.family != profile.family or target.kind != profile.kind:
            self._wire.event(now, "upgrade_refused", None, {"why": f"{target.name}: other family"})
            reply(UpgradeResult.MODEL_MISMATCH)
            return
        download = self._rng.uniform(*profile.timings.upgrade_download_s)
        if download > msg.timeout_minutes * 60:
            reply(UpgradeResult.DOWNLOAD_TIMEOUT)
            return
        reply(UpgradeResult.SUCCESS)
        self.upgrade = PendingUpgrade(target, now + download, msg.execution)
        self._wire.event(now, "upgrade_started", None, {"to": target.name, "download_s": download})
