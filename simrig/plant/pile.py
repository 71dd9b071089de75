"""One physical pile: its guns, supply power, emergency stop, shared power (pure)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from simrig.plant.gun import Gun
from simrig.plant.physics import seconds_to_soc, soc_after
from simrig.plant.specs import HandshakeStatus, PileSpec, StopCause
from simrig.plant.truth import Interval, TruthSession

_INF = math.inf

#: ``listener(pile, now)``: the pile's state changed at ``now`` (see ``Plant.add_listener``)
ChangeListener = Callable[["PhysicalPile", float], None]


class PhysicalPile:
    """A pile: 1–2 guns, supply power, emergency stop, power budget and limit percent.

    Internal events (handshake completion, BMS stop) are applied in time order when the
    pile is advanced; between events the state is integrated in closed form.
    """

    def __init__(
        self,
        pile_no: str,
        spec: PileSpec,
        *,
        meter_start_kwh: float | Sequence[float] = 0.0,
        meter_factor: float | Sequence[float] = 1.0,
        sessions: list[TruthSession] | None = None,
        listeners: list[ChangeListener] | None = None,
    ):
        self.pile_no = pile_no
        self.spec = spec
        starts = _per_gun(meter_start_kwh, spec.guns, "meter_start_kwh")
        factors = _per_gun(meter_factor, spec.guns, "meter_factor")
        self.guns: tuple[Gun, ...] = tuple(
            Gun(self, n + 1, starts[n], factors[n]) for n in range(spec.guns)
        )
        self._sessions: list[TruthSession] = [] if sessions is None else sessions
        #: told after every change (shared with the plant, which adds and removes them)
        self._listeners: list[ChangeListener] = [] if listeners is None else listeners
        self._t = -_INF
        self._power = True
        self._estop = False
        self._percent = 100.0
        self._n_drawing = 0
        self._cap = spec.power_kw
        self._next_evt = _INF
        self._version = 0  # bumped whenever who-draws-what is re-derived (state_version)

    def __repr__(self) -> str:
        return f"PhysicalPile({self.pile_no!r}, {self.spec.kind}, guns={self.spec.guns})"

    def gun(self, number: int) -> Gun:
        """Gun by 1-based number."""
        if not 1 <= number <= len(self.guns):
            raise KeyError(f"pile {self.pile_no} has no gun {number}")
        return self.guns[number - 1]

    @property
    def now(self) -> float:
        """The time this pile's state is valid at (-inf before first use)."""
        return self._t

    @property
    def power_limit_percent(self) -> float:
        """Output power limit in percent of max_power_kw (working params, 30–100)."""
        return self._percent

    # -- readings
    def power_present(self, now: float) -> bool:
        """Supply power is on."""
        self.advance(now)
        return self._power

    def emergency_stop_pressed(self, now: float) -> bool:
        """The pile's emergency-stop button is pressed."""
        self.advance(now)
        return self._estop

    def next_event_time(self, now: float) -> float | None:
        """Earliest spontaneous change after ``now`` (handshake result, BMS stop), or None."""
        self.advance(now)
        return None if self._next_evt == _INF else self._next_evt

    def pending_event_time(self) -> float | None:
        """The next spontaneous change as of the last advance, without advancing.

        Lets a reader tell whether a change is due that nobody has looked at yet."""
        return None if self._next_evt == _INF else self._next_evt

    # -- commands / stimuli
    def set_power_limit_percent(self, now: float, percent: float) -> None:
        """Firmware applies a power limit (YKC 0x52); must be within 30..100."""
        if not 30.0 <= percent <= 100.0:
            raise ValueError(f"power limit percent must be within 30..100, got {percent}")
        self.advance(now)
        self._percent = float(percent)
        self._settle(now, None)

    def press_emergency_stop(self, now: float) -> None:
        """E-stop pressed: contactors drop, BMS sessions end (idempotent)."""
        self.advance(now)
        self._estop = True
        self._interlock(now, StopCause.EMERGENCY_STOP)

    def release_emergency_stop(self, now: float) -> None:
        """E-stop released; firmware must handshake and close the contactor again."""
        self.advance(now)
        self._estop = False
        self._settle(now, None)

    def power_cut(self, now: float) -> None:
        """Supply power lost: no current, contactors drop, BMS sessions end (idempotent)."""
        self.advance(now)
        self._power = False
        self._interlock(now, StopCause.POWER_CUT)

    def power_restore(self, now: float) -> None:
        """Supply power back; nothing restarts by itself."""
        self.advance(now)
        self._power = True
        self._settle(now, None)

    def advance(self, now: float) -> None:
        """Bring the pile's state to ``now`` (raises ValueError if time goes backwards)."""
        if now == self._t:
            return
        if now < self._t:
            raise ValueError(f"pile {self.pile_no}: time went backwards ({now} < {self._t})")
        while self._next_evt <= now:
            t = self._next_evt
            self._integrate(t)
            self._fire(t)
        self._integrate(now)

    # -- internals
    def _cap_for(self, n_drawing: int) -> float:
        budget = self.spec.power_kw * self._percent / 100.0
        return budget / n_drawing if self.spec.shared_power and n_drawing > 1 else budget

    def _interlock(self, now: float, cause: StopCause) -> None:
        for g in self.guns:
            g._open(now, cause)
            g._abort_handshake()
        self._settle(now, cause)

    def _integrate(self, t1: float) -> None:
        dt = t1 - self._t
        if self._n_drawing and dt > 0.0:
            cap = self._cap
            for g in self.guns:
                if g._drawing:
                    g._integrate(dt, cap)
        self._t = t1

    def _fire(self, t: float) -> None:
        """Apply the internal events due at ``t`` (state already integrated to ``t``)."""
        for g in self.guns:
            hs = g._hs
            if hs is not None and hs.status is HandshakeStatus.IN_PROGRESS and hs.deadline <= t:
                v = g._vehicle
                assert v is not None
                if v.handshake_failure is None:
                    hs.status = HandshakeStatus.DONE
                else:
                    hs.status, hs.reason = HandshakeStatus.FAILED, v.handshake_failure
            if g._drawing and g._stop_at <= t:
                v = g._vehicle
                assert v is not None
                g._set_soc(v.target_soc)
                g._bms_stopped = True
        self._refresh(t, StopCause.BMS_FULL)

    def _settle(self, now: float, cause: StopCause | None) -> None:
        """Re-derive who draws current after a change at ``now``; fire events due now."""
        self._refresh(now, cause)
        while self._next_evt <= now:
            self._fire(now)

    def _refresh(self, now: float, cause: StopCause | None) -> None:
        """Re-derive who draws what at ``now`` (every command, stimulus and event ends
        here), then tell the listeners: the state is already valid at ``now``."""
        self._version += 1
        n = 0
        for g in self.guns:
            draw = g._should_draw()
            if draw:
                v = g._vehicle
                assert v is not None
                if g._soc >= v.target_soc:  # BMS refuses: already at target
                    g._bms_stopped = True
                    draw = False
            if draw != g._drawing:
                g._drawing = draw
                session = g._session
                if session is not None:
                    if draw:
                        session.current.append(Interval(now))
                    else:
                        last = session.current[-1]
                        last.end = now
                        last.end_cause = cause if cause is not None else StopCause.CONTACTOR_OPEN
            n += draw
        self._n_drawing = n
        self._cap = self._cap_for(n)
        nxt = _INF
        for g in self.guns:
            hs = g._hs
            if hs is not None and hs.status is HandshakeStatus.IN_PROGRESS:
                nxt = min(nxt, hs.deadline)
            if g._drawing:
                v = g._vehicle
                assert v is not None
                g._stop_at = now + seconds_to_soc(
                    g._soc, v.target_soc, g._pmax, v.cv_knee_soc, self._cap, v.capacity_kwh
                )
                nxt = min(nxt, g._stop_at)
            else:
                g._stop_at = _INF
        self._next_evt = nxt
        if self._listeners:
            for listener in self._listeners:
                listener(self, now)

    def _project_stop(self, gun: Gun) -> float:
        """Absolute time ``gun``'s BMS stops if no command/stimulus intervenes."""
        t0 = self._t
        socs: dict[Gun, float] = {g: g._soc for g in self.guns if g._drawing}
        if len(socs) == 1 and not any(g._will_draw_after_handshake() for g in self.guns):
            v = gun._vehicle  # alone and staying alone: the first pass of the loop below
            assert v is not None and gun in socs
            cap = self._cap_for(1)
            return t0 + seconds_to_soc(
                gun._soc, v.target_soc, gun._pmax, v.cv_knee_soc, cap, v.capacity_kwh
            )
        pending = sorted(
            (
                (g.handshake_deadline or t0, g.number, g)
                for g in self.guns
                if g._will_draw_after_handshake()
            ),
            key=lambda item: (item[0], item[1]),
        )
        t = t0
        while True:
            cap = self._cap_for(len(socs))
            stop_t, stop_g = _INF, gun
            for g, s in socs.items():
                v = g._vehicle
                assert v is not None
                ts = t + seconds_to_soc(
                    s, v.target_soc, g._pmax, v.cv_knee_soc, cap, v.capacity_kwh
                )
                if ts < stop_t:
                    stop_t, stop_g = ts, g
            hs_t = pending[0][0] if pending else _INF
            t_next = min(stop_t, hs_t)
            for g, s in socs.items():
                v = g._vehicle
                assert v is not None
                s1 = soc_after(s, t_next - t, g._pmax, v.cv_knee_soc, cap, v.capacity_kwh)
                socs[g] = min(s1, v.target_soc)
            t = t_next
            if stop_t <= hs_t:
                if stop_g is gun:
                    return t
                del socs[stop_g]
            else:
                g_new = pending.pop(0)[2]
                socs[g_new] = g_new._soc


def _per_gun(value: float | Sequence[float], guns: int, name: str) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)] * guns
    values = [float(x) for x in value]
    if len(values) != guns:
        raise ValueError(f"{name}: expected {guns} values, got {len(values)}")
    return values
