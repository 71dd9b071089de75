"""The pile's link session: power and boot, connection, login (§4.1-4.2), heartbeats
(§4.3), the billing model (0x05/0x09/0x0A, 0x58: §4.4, §5) and reconnect back-off.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from simrig.domain import Band, BandRate, Tariff, rate_from_yuan
from simrig.protocol.ykc import (
    Confirm,
    GunHealth,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    LoginResult,
    ModelCheck,
    ModelReply,
    ModelRequest,
    ModelVerify,
    ModelVerifyReply,
    PileType,
    SetModel,
    SetModelReply,
)

from .routing import Router, on

if TYPE_CHECKING:
    import random

    from simrig.plant import PhysicalPile

    from .image import Image
    from .wire import Wire

__all__ = ["Heartbeats", "LinkSession"]

_INF = math.inf


class Heartbeats:
    """The heartbeat schedule of one login: heartbeat k is due at ``base + k × period``
    (computed, not summed, so that skipping n of them in virtual time lands on the very
    same instants). Those due before ``paper_until`` are sent on paper (speed part)."""

    __slots__ = ("base", "index", "k", "next", "paper_until", "unanswered")

    def __init__(self) -> None:
        self.base, self.k = _INF, 0
        self.next = _INF
        self.unanswered = 0
        self.index = 0  # round-robin over the guns
        self.paper_until = -_INF

    def next_real(self) -> float:
        """When the next heartbeat not on paper is due (a plan ends on a heartbeat)."""
        hb, planned = self.next, self.paper_until
        return hb if hb >= planned else planned


class LinkSession(Router):
    """Power, boot, connection, login, heartbeats and the billing model of one pile."""

    def __init__(
        self,
        wire: Wire,
        image: Image,
        plant: PhysicalPile,
        rng: random.Random,
        heartbeats: Heartbeats,
    ) -> None:
        self._wire = wire
        self._image = image
        self._plant = plant
        self._rng = rng
        self._hb = heartbeats
        self._guns = len(plant.guns)
        self.powered = True
        self.boot_until: float | None = None
        self.logged_in = False
        self.login_deadline = _INF
        self.close_requested = False
        self.backoff = image.timings.reconnect_s[0]
        self.reconnect_at = 0.0
        self.offline_since: float | None = 0.0
        self.tariff: Tariff | None = None
        self.model_state: str | None = None  # verify | request | ok
        self.model_retry_at = _INF

    def alive(self) -> bool:
        return self.powered and self.boot_until is None

    def wants_connection(self, now: float) -> bool:
        return (
            self.powered
            and self.boot_until is None
            and not self._wire.connected
            and not self.close_requested
            and now >= self.reconnect_at
        )

    # ------------------------------------------------------------------ connection
    def open(self, now: float) -> bool:
        """The driver opened the link: send 0x01 login (§4.1); False if not alive."""
        if not self.alive():
            return False
        self._wire.connected = True
        self.close_requested = False
        self.logged_in = False
        p = self._image.profile
        self._wire.send(
            Login(
                pile_no=self._wire.pile_no,
                pile_type=PileType.DC if p.kind == "DC" else PileType.AC,
                gun_count=p.guns,
                protocol_version=p.protocol_version,
                firmware_version=p.firmware_string,
            ),
            now,
        )
        self.login_deadline = now + p.timings.login_timeout_s
        return True

    def drop(self, now: float) -> None:
        """The link is gone: RAM state of the login is reset."""
        self._wire.connected = False
        self.logged_in = False
        self.model_state = None
        self.model_retry_at = _INF
        self._hb.next = _INF
        self._hb.unanswered = 0
        self.login_deadline = _INF
        self.offline_since = now

    def retry_later(self, now: float) -> None:
        """Reconnect after the back-off, ±20 % rng jitter."""
        self.reconnect_at = now + self.backoff * self._rng.uniform(0.8, 1.2)

    def failed(self, now: float) -> None:
        """A connection attempt failed: retry later, doubling the back-off up to high."""
        self.retry_later(now)
        self.backoff = min(self.backoff * 2.0, self._image.timings.reconnect_s[1])

    def booted(self, now: float) -> None:
        self.boot_until = None
        self.reconnect_at = now
        self.backoff = self._image.timings.reconnect_s[0]
        self._wire.event(now, "booted", None, {"firmware": self._image.profile.name})

    def login_timed_out(self, now: float) -> None:
        self.close_requested = True
        self.login_deadline = _INF
        self._wire.event(now, "login_timeout", None, {})

    def login_replied(self, msg: LoginReply, now: float) -> bool:
        """0x02 login reply (§4.2); True if the pile is now logged in."""
        if self.logged_in:
            return False
        self.login_deadline = _INF
        if msg.result != LoginResult.OK:
            self.close_requested = True
            self._wire.event(now, "login_refused", None, {})
            return False
        self.logged_in = True
        self.offline_since = None
        t = self._image.timings
        self.backoff = t.reconnect_s[0]
        hb = self._hb
        hb.unanswered = 0
        hb.base, hb.k = now + t.heartbeat_s, 0
        hb.next = hb.base
        self._wire.event(now, "logged_in", None, {"firmware": self._image.profile.name})
        return True

    # ------------------------------------------------------------------ heartbeats
    def tick_heartbeat(self, now: float) -> None:
        """Send the heartbeats due (0x03, §4.3), round-robin over the guns; after
        ``heartbeat_misses`` unanswered ones, ask for the link to be dropped."""
        t = self._image.timings
        hb = self._hb
        while self.logged_in and now >= hb.next:
            if hb.unanswered >= t.heartbeat_misses:
                self.close_requested = True
                hb.next = _INF
                self._wire.event(now, "heartbeat_lost", None, {"missed": hb.unanswered})
                return
            gun = hb.index % self._guns + 1
            hb.index += 1
            estop = self._plant.emergency_stop_pressed(now)
            self._wire.send(
                Heartbeat(
                    pile_no=self._wire.pile_no,
                    gun=gun,
                    gun_state=GunHealth.FAULT if estop else GunHealth.NORMAL,
                ),
                now,
            )
            hb.unanswered += 1
            hb.k += 1
            hb.next = hb.base + hb.k * t.heartbeat_s

    @on(HeartbeatReply)
    def _on_heartbeat_reply(self, msg: HeartbeatReply, seq: int, now: float) -> None:
        """0x04 heartbeat reply (§4.3)."""
        self._hb.unanswered = 0

    # ------------------------------------------------------------------ billing model
    def request_model(self, now: float, again: bool) -> None:
        """0x05 verify the model held, or 0x09 request one (§4.4)."""
        pile_no = self._wire.pile_no
        if again and self.model_state == "request":
            self._wire.send(ModelRequest(pile_no=pile_no), now)
        else:
            model_no = self.tariff.model_no if self.tariff is not None else "0000"
            self._wire.send(ModelVerify(pile_no=pile_no, model_no=model_no), now)
            self.model_state = "verify"
        self.model_retry_at = now + self._image.timings.model_retry_s

    @on(ModelVerifyReply)
    def _on_model_verify_reply(self, msg: ModelVerifyReply, seq: int, now: float) -> None:
        """0x06 model verification reply (§4.4, §3 item 1)."""
        if msg.result == ModelCheck.MATCH and self.tariff is not None:
            self.model_state, self.model_retry_at = "ok", _INF
            return
        self._wire.send(ModelRequest(pile_no=self._wire.pile_no), now)
        self.model_state = "request"
        self.model_retry_at = now + self._image.timings.model_retry_s

    @on(ModelReply, SetModel)
    def _on_model_reply(self, msg: ModelReply, seq: int, now: float) -> None:
        """0x0A model reply / 0x58 set model (§5)."""
        pile_no = self._wire.pile_no
        try:
            self.tariff = _tariff_of(msg)
        except ValueError as exc:
            self._wire.event(now, "model_rejected", None, {"error": str(exc)})
            if isinstance(msg, SetModel):
                self._wire.send(SetModelReply(pile_no=pile_no, result=Confirm.FAILED), now, seq)
            return
        self.model_state, self.model_retry_at = "ok", _INF
        self._wire.event(now, "model_set", None, {"model_no": msg.model_no})
        if isinstance(msg, SetModel):
            self._wire.send(SetModelReply(pile_no=pile_no, result=Confirm.OK), now, seq)


def _tariff_of(msg: ModelReply) -> Tariff:
    """Build a :class:`Tariff` from a 0x0A / 0x58 body (raises ValueError if invalid)."""
    rates = (
        BandRate(rate_from_yuan(msg.sharp_rate), rate_from_yuan(msg.sharp_service)),
        BandRate(rate_from_yuan(msg.peak_rate), rate_from_yuan(msg.peak_service)),
        BandRate(rate_from_yuan(msg.flat_rate), rate_from_yuan(msg.flat_service)),
        BandRate(rate_from_yuan(msg.valley_rate), rate_from_yuan(msg.valley_service)),
    )
    if len(msg.periods) != 48 or any(p not in (0, 1, 2, 3) for p in msg.periods):
        raise ValueError("periods: need 48 bands 0-3")
    tariff = Tariff(
        model_no=msg.model_no,
        rates=rates,
        periods=tuple(Band(p) for p in msg.periods),
        loss_ratio_pct=msg.loss_ratio,
    )
    tariff.validate()
    return tariff
