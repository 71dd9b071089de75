"""Field-log import: a platform's status CSV → a runnable scenario skeleton (issue 12 item 5).

The CSV (header row required, columns in any order; see ``docs/trace-import.md``):

===============  ========  ==============================================================
column           required  value
===============  ========  ==============================================================
``time``         yes       ISO ``2019-10-29T18:25:05`` or ``2019-10-29 18:25:05[.123]``
``pile``         yes       14-digit pile number
``gun``          yes       1 or 2
``status``       yes       field heartbeat status (field-incidents.md): ``1`` preparing
                           (authorised, waiting for the gun/car), ``2`` gun plugged /
                           ready, ``3`` charging, ``8`` fault / offline-marked
``energy_kwh``   no        energy delivered so far in the session (zpd_case#12: 7.31)
``bill_id``      no        20 digits, ``yyyyMMddHHmmss`` + 6: its time is the start
``start``        no        ``card`` or ``app``: how the session was started
===============  ========  ==============================================================

Derivation per pile/gun (rows in file order; time may not go backwards for a pile):
a session opens at its first 1/2/3 row; a ``1`` after a charge, or a ``3`` after the
charge ended (with the ``2`` just before it, zpd_case#20's Sinexcel), opens the next.
*plug* = the first ``2`` when the session opens with it, else 5 s before the start (a
Juneng pile hides the plug until the scan, zpd_case#20);
*start* = the bill id's time, else the first ``1`` (the scan), else 30 s before the
first ``3``; *charging* = the first ``3`` (the vehicle's handshake is sized to land
there); *stop* = the first ``2`` after a ``3``; *unplug* = the session's last row (60 s
after the stop if the log never shows the gun again). Offline windows (per pile): a
``8`` row until the pile's next non-8 row (zpd_case#12, igo_case#30), and with
``gap_s`` any silence longer than that between two rows of the pile.

Pure: :func:`import_trace` takes text; :func:`import_trace_file` is the thin file edge.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import tomlkit
from tomlkit.items import AoT, Table

__all__ = [
    "COLUMNS",
    "STATUSES",
    "Outage",
    "Row",
    "Session",
    "Skeleton",
    "TraceError",
    "build_scenario",
    "derive_outages",
    "derive_sessions",
    "import_trace",
    "import_trace_file",
    "parse_trace",
    "render_scenario",
]

StartKind = Literal["card", "app"]

#: the field vocabulary of the heartbeat status (field-incidents.md, "Vocabulary")
STATUSES: dict[int, str] = {
    1: "preparing (authorised, waiting for the gun / the car)",
    2: "gun plugged / ready, not charging",
    3: "charging",
    8: "fault / offline-marked",
}
REQUIRED = ("time", "pile", "gun", "status")
COLUMNS = (*REQUIRED, "energy_kwh", "bill_id", "start")

#: seconds between the plug and the start when the log shows no plug of its own
PLUG_LEAD_S = 5.0
#: seconds between the start and the first ``3`` when the log shows no start
START_LEAD_S = 30.0
#: the unplug a log never shows: this long after the stop
UNPLUG_AFTER_S = 60.0
#: a card start reaches charging ~handshake_s later; this much goes to the auth round trip
AUTH_S = 1.0
DEFAULT_PROFILE = "generic-dc@1.0"

_BILL_ID = re.compile(r"^\d{20}$")


class TraceError(ValueError):
    """A status log that cannot be imported; the message is one line: ``file:line: field: why``."""


@dataclass(frozen=True, slots=True)
class Row:
    """One validated CSV row (``line`` is the file's 1-based line number)."""

    line: int
    time: datetime
    pile: str
    gun: int
    status: int
    energy_kwh: float | None = None
    bill_id: str | None = None
    start: StartKind | None = None


@dataclass(frozen=True, slots=True)
class Outage:
    """An offline window of one pile (wall times) and the lines it comes from."""

    pile: str
    start: datetime
    end: datetime
    why: str


@dataclass
class Session:
    """One plug-in on a gun, with the times derived from its rows (see module docstring)."""

    pile: str
    gun: int
    index: int  # 1-based plug-in number on the gun (the [[expect]] session)
    rows: list[Row] = field(default_factory=list)

    def _first(self, status: int) -> Row | None:
        return next((r for r in self.rows if r.status == status), None)

    @property
    def charging(self) -> Row | None:
        return self._first(3)

    @property
    def stop(self) -> Row | None:
        """The first ``2`` after a ``3``: the charge ended, the gun still in."""
        seen = False
        for r in self.rows:
            seen = seen or r.status == 3
            if seen and r.status == 2:
                return r
        return None

    @property
    def charge_end(self) -> datetime | None:
        """The end of charging as the log bounds it (stop, else the last ``3``)."""
        stop = self.stop
        if stop is not None:
            return stop.time
        threes = [r for r in self.rows if r.status == 3]
        return threes[-1].time if threes else None

    @property
    def start_at(self) -> datetime | None:
        """When the user started: bill id time, first ``1``, or 30 s before the first 3."""
        found = self.start()
        return None if found is None else found[0]

    def start(self) -> tuple[datetime, str] | None:
        """The start time and where it comes from (None: the session never charged)."""
        charging = self.charging
        if charging is None:
            return None
        low = self.rows[0].time if self.rows[0].status == 2 else None
        for r in self.rows:
            at = _bill_time(r.bill_id) if r.bill_id else None
            if at is not None and (low is None or at > low) and at <= charging.time:
                return at, f"line {r.line}: bill id {r.bill_id}"
        auth = self._first(1)
        if auth is not None and auth.time <= charging.time:
            return auth.time, f"line {auth.line}: status 1 (the scan)"
        at = charging.time - timedelta(seconds=START_LEAD_S)
        if low is not None and at <= low:
            at = low + (charging.time - low) / 2
        return at, f"before line {charging.line}'s first status 3 (the handshake)"

    @property
    def plug_at(self) -> datetime:
        first = self.rows[0]
        start = self.start_at
        if first.status == 2 or start is None:
            return first.time
        return min(first.time, start) - timedelta(seconds=PLUG_LEAD_S)

    @property
    def unplug_at(self) -> datetime:
        last = self.rows[-1].time
        stop = self.stop
        if stop is not None and last <= stop.time:
            return stop.time + timedelta(seconds=UNPLUG_AFTER_S)
        return last

    @property
    def energy_kwh(self) -> float | None:
        values = [r.energy_kwh for r in self.rows if r.energy_kwh is not None]
        return max(values) if values else None

    @property
    def bill_id(self) -> str | None:
        return next((r.bill_id for r in self.rows if r.bill_id), None)

    def start_kind(self, default: StartKind) -> StartKind:
        return next((r.start for r in self.rows if r.start), default)


# --------------------------------------------------------------------------- parsing
def parse_trace(text: str, *, source: str = "<trace>") -> list[Row]:
    """Validate the whole CSV; the first problem raises :class:`TraceError` (one line)."""
    lines = text.splitlines()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise TraceError(f"{source}:1: header: empty file, expected columns {','.join(REQUIRED)}")
    names = [h.strip().lower() for h in header]
    for name in names:
        if name not in COLUMNS:
            raise TraceError(
                f"{source}:1: {name or '(empty)'}: unknown column (known: {', '.join(COLUMNS)})"
            )
    for name in REQUIRED:
        if name not in names:
            raise TraceError(f"{source}:1: {name}: missing required column")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TraceError(f"{source}:1: {dupes[0]}: column listed twice")
    rows: list[Row] = []
    last_time: dict[str, tuple[datetime, int]] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            raise TraceError(f"{source}:{line}: row: {len(cells)} cells, header has {len(names)}")
        values = {n: c.strip() for n, c in zip(names, cells, strict=True)}
        try:
            row = _row(line, values)
        except _CellError as exc:
            raise TraceError(f"{source}:{line}: {exc.column}: {exc.reason}") from None
        previous = last_time.get(row.pile)
        if previous is not None and row.time < previous[0]:
            raise TraceError(
                f"{source}:{line}: time: {row.time.isoformat(sep=' ')} goes back before "
                f"line {previous[1]} ({previous[0].isoformat(sep=' ')}) for pile {row.pile}"
            )
        last_time[row.pile] = (row.time, line)
        rows.append(row)
    if not rows:
        raise TraceError(f"{source}:1: rows: no data rows after the header")
    return rows


class _CellError(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def _row(line: int, v: dict[str, str]) -> Row:
    for name in REQUIRED:
        if not v[name]:
            raise _CellError(name, "empty")
    try:
        time = datetime.fromisoformat(v["time"])
    except ValueError:
        raise _CellError("time", f"{v['time']!r} is not a time like 2019-10-29 18:25:05") from None
    if time.tzinfo is not None:
        time = time.replace(tzinfo=None)  # the log's wall clock is the scenario's
    if not re.fullmatch(r"\d{14}", v["pile"]):
        raise _CellError("pile", f"{v['pile']!r} is not a 14-digit pile number")
    if v["gun"] not in ("1", "2"):
        raise _CellError("gun", f"{v['gun']!r} is not a gun number (1 or 2)")
    if not v["status"].isdigit() or int(v["status"]) not in STATUSES:
        known = ", ".join(f"{k} {m.split(' (')[0]}" for k, m in STATUSES.items())
        raise _CellError("status", f"{v['status']!r} is not a field status ({known})")
    energy = None
    if v.get("energy_kwh"):
        try:
            energy = float(v["energy_kwh"])
        except ValueError:
            energy = math.nan
        if not math.isfinite(energy) or energy < 0:
            raise _CellError("energy_kwh", f"{v['energy_kwh']!r} is not an energy in kWh ≥ 0")
    bill = v.get("bill_id") or None
    if bill is not None and (not _BILL_ID.match(bill) or _bill_time(bill) is None):
        raise _CellError("bill_id", f"{bill!r} is not a bill id (yyyyMMddHHmmss + 6 digits)")
    start = (v.get("start") or "").lower() or None
    if start not in (None, "card", "app"):
        raise _CellError("start", f"{v['start']!r} is not card or app")
    return Row(line, time, v["pile"], int(v["gun"]), int(v["status"]), energy, bill, start)  # type: ignore[arg-type]


def _bill_time(bill_id: str) -> datetime | None:
    try:
        return datetime.strptime(bill_id[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None


# --------------------------------------------------------------------------- derivation
def derive_sessions(rows: Iterable[Row]) -> list[Session]:
    """Plug-ins per pile/gun from the 1/2/3 rows (8 rows only mark offline windows)."""
    sessions: list[Session] = []
    open_: dict[tuple[str, int], Session] = {}
    counts: dict[tuple[str, int], int] = {}
    for row in rows:
        if row.status == 8:
            continue
        key = (row.pile, row.gun)
        current = open_.get(key)
        carried: list[Row] = []
        if current is not None and _opens_next(current, row):
            last, stop = current.rows[-1], current.stop
            if row.status == 3 and last.status == 2 and stop is not None and last is not stop:
                carried = [current.rows.pop()]  # the 2 just before the 3: the next plug
            current = None
        if current is None:
            counts[key] = counts.get(key, 0) + 1
            current = open_[key] = Session(row.pile, row.gun, counts[key], carried)
            sessions.append(current)
        current.rows.append(row)
    return sessions


def _opens_next(current: Session, row: Row) -> bool:
    """A ``1`` after a charge (a new scan), or a ``3`` after the charge ended."""
    if row.status == 1:
        return current.charging is not None
    if row.status == 3:
        return current.stop is not None
    return False


def derive_outages(rows: list[Row], *, gap_s: float | None = None) -> list[Outage]:
    """Offline windows per pile: an ``8`` row until the next non-8 row; silences > gap_s."""
    windows: list[Outage] = []
    by_pile: dict[str, list[Row]] = {}
    for row in rows:
        by_pile.setdefault(row.pile, []).append(row)
    for pile, trail in by_pile.items():
        down: Row | None = None
        for prev, row in zip([None, *trail], trail, strict=False):
            if row.status == 8:
                down = down or row
                continue
            if down is not None:
                why = f"status 8 at line {down.line} until line {row.line}"
                windows.append(Outage(pile, down.time, row.time, why))
                down = None
            elif (
                gap_s is not None
                and prev is not None
                and (row.time - prev.time).total_seconds() > gap_s
            ):
                silent = (row.time - prev.time).total_seconds()
                why = f"no row for {silent:.0f} s (lines {prev.line}–{row.line})"
                windows.append(Outage(pile, prev.time, row.time, why))
        if down is not None:  # still marked offline at the end of the log
            end = trail[-1].time + timedelta(seconds=UNPLUG_AFTER_S)
            windows.append(
                Outage(pile, down.time, end, f"status 8 from line {down.line} to the end")
            )
    return _merge(windows)


def _merge(windows: list[Outage]) -> list[Outage]:
    merged: list[Outage] = []
    for w in sorted(windows, key=lambda w: (w.pile, w.start)):
        last = merged[-1] if merged else None
        if last is not None and last.pile == w.pile and w.start <= last.end:
            merged[-1] = replace(last, end=max(last.end, w.end), why=f"{last.why}; {w.why}")
        else:
            merged.append(w)
    return merged


# --------------------------------------------------------------------------- building
@dataclass(frozen=True)
class _Entry:
    """One table of the skeleton and the comment saying where it comes from."""

    data: dict[str, Any]
    why: str = ""


@dataclass(frozen=True)
class _Step:
    at: datetime
    data: dict[str, Any]
    why: str


@dataclass
class Skeleton:
    """The scenario's tables before rendering (times already in scenario notation)."""

    meta: dict[str, Any]
    piles: list[_Entry]
    vehicles: list[_Entry]
    users: list[_Entry]
    timeline: list[_Entry]
    network: list[_Entry]
    sessions: list[Session]
    outages: list[Outage]
    source: str


def build_scenario(
    rows: list[Row],
    *,
    name: str,
    profile: str = DEFAULT_PROFILE,
    gap_s: float | None = None,
    start: StartKind = "card",
    source: str = "<trace>",
) -> Skeleton:
    """Derive sessions and outages from validated rows and lay out the scenario's tables."""
    sessions = derive_sessions(rows)
    outages = derive_outages(rows, gap_s=gap_s)
    steps: list[_Step] = []
    vehicles: list[_Entry] = []
    users: list[_Entry] = []
    through: set[str] = set()
    for n, s in enumerate(sessions, start=1):
        steps += _session_steps(s, n, start, vehicles, users, sessions)
        end = s.charge_end
        if s.charging is not None and end is not None:
            for w in outages:
                if w.pile == s.pile and s.charging.time < w.start and w.end < end:
                    through.add(s.pile)  # 3 on both sides: it charged through (zpd_case#12)
    times = [r.time for r in rows] + [st.at for st in steps] + [w.start for w in outages]
    epoch = (min(times) - timedelta(seconds=60)).replace(minute=0, second=0, microsecond=0)
    last = max([st.at for st in steps] + [w.end for w in outages] + [r.time for r in rows])
    duration_min = math.ceil((last - epoch).total_seconds() / 60) + 10
    piles: list[_Entry] = []
    for pile in dict.fromkeys(r.pile for r in rows):
        entry: dict[str, Any] = {"pile_no": pile, "profile": profile}
        why = "set the pile's firmware profile (simrig firmware list)"
        if any(r.gun == 2 for r in rows if r.pile == pile):
            entry["guns"] = 2
        if pile in through:
            entry["quirks"] = {"charge_through_outage": {"max_frames": 240}}
            why += "; the log shows charging on both sides of an outage (zpd_case#12)"
        piles.append(_Entry(entry, why))
    meta = {
        "name": name,
        "case": "",
        "description": f"imported from {Path(source).name}: {len(sessions)} session(s), "
        f"{len(outages)} offline window(s)",
        "seed": 1,
        "epoch": epoch,
        "duration": f"{duration_min}m",
        "needs_backend_api": any(s.start_kind(start) == "app" for s in sessions),
    }
    network = [
        _Entry(
            {"pile": w.pile, "outages": [[_at(w.start, epoch), _at(w.end, epoch)]]},
            f"offline: {w.why}",
        )
        for w in outages
    ]
    timeline = [
        _Entry({"at": _at(st.at, epoch), **st.data}, st.why)
        for st in sorted(steps, key=lambda st: st.at)
    ]
    return Skeleton(meta, piles, vehicles, users, timeline, network, sessions, outages, source)


def _session_steps(
    s: Session,
    n: int,
    default: StartKind,
    vehicles: list[_Entry],
    users: list[_Entry],
    sessions: list[Session],
) -> list[_Step]:
    where = {"pile": s.pile, "gun": s.gun}
    first = s.rows[0]
    vehicle = f"car_{n}"
    plug_why = (
        f"line {first.line}: status {first.status}"
        if first.status == 2 or s.charging is None
        else f"line {first.line}: status {first.status}; plugged {PLUG_LEAD_S:.0f} s before start"
    )
    steps = [_Step(s.plug_at, {"do": "plug", **where, "vehicle": vehicle}, f"plug: {plug_why}")]
    vehicles.append(_vehicle(s, vehicle))
    unplug = s.unplug_at
    following = [o for o in sessions if (o.pile, o.gun) == (s.pile, s.gun) and o.index > s.index]
    if following:  # never after the next plug-in on the gun
        unplug = min(unplug, following[0].plug_at - timedelta(seconds=1))
    started = s.start()
    if started is not None:
        kind = s.start_kind(default)
        user = f"user_{n}"
        users.append(_user(user, n, kind))
        action = "card" if kind == "card" else "app_start"
        steps.append(
            _Step(started[0], {"do": action, **where, "user": user}, f"start: {started[1]}")
        )
        stop = s.stop
        if stop is not None:
            data = (
                {"do": "card", **where, "user": user}
                if kind == "card"
                else {"do": "app_stop", **where}
            )
            steps.append(_Step(stop.time, data, f"stop: line {stop.line}: first status 2 after 3"))
    last = s.rows[-1]
    why = (
        f"unplug: line {last.line}: the session's last row"
        if unplug == last.time
        else "unplug: the log never shows it (a placeholder)"
    )
    steps.append(_Step(unplug, {"do": "unplug", **where}, why))
    return steps


def _vehicle(s: Session, name: str) -> _Entry:
    """A placeholder vehicle: its handshake lands charging on the first ``3``, its power
    spreads the logged energy over the logged charging time (flat: 20 % → below the knee)."""
    charging, start_at, end = s.charging, s.start_at, s.charge_end
    if charging is None or start_at is None or end is None:
        return _Entry({"name": name}, f"session {s.index} on {s.pile}: never charged in the log")
    handshake = max(1.0, (charging.time - start_at).total_seconds() - AUTH_S)
    hours = max((end - charging.time).total_seconds() / 3600, 1 / 60)
    energy = s.energy_kwh
    power = 60.0 if not energy else min(max(energy / hours, 1.0), 350.0)
    needed = energy if energy else power * hours
    capacity = max(60.0, float(math.ceil(needed * 1.1 / 0.6)))
    data: dict[str, Any] = {
        "name": name,
        "handshake_s": round(handshake, 1),
        "capacity_kwh": capacity,
        "initial_soc": 20.0,
        "max_power_kw": round(power, 2),
        "cv_knee_soc": 80.0,
    }
    why = f"session {s.index} on {s.pile} gun {s.gun}"
    if energy:
        data["target_soc"] = round(min(100.0, 20.0 + 110.0 * energy / capacity), 1)
        why += f": {energy:g} kWh over {hours * 60:.0f} min of charging"
    return _Entry(data, why)


def _user(name: str, n: int, kind: StartKind) -> _Entry:
    user: dict[str, Any] = {"name": name, "balance": 1000.0}
    if kind == "card":
        user["card"] = f"{0xC0DE0000 + n:016X}"
        user["logical_card"] = str(1000000000 + n)
    return _Entry(user, f"placeholder {kind} user")


def _at(at: datetime, epoch: datetime) -> str:
    """A wall time as the scenario's ``HH:MM:SS`` (``dN HH:MM:SS`` on later days)."""
    day = (at.date() - epoch.date()).days + 1
    clock = at.strftime("%H:%M:%S")
    if at.microsecond:
        clock += f".{at.microsecond // 1000:03d}"
    return clock if day == 1 else f"d{day} {clock}"


# --------------------------------------------------------------------------- rendering
def render_scenario(skeleton: Skeleton) -> str:
    """The TOML text, written by tomlkit (tables, provenance comments, [[expect]] commented)."""
    doc = tomlkit.document()
    for line in (
        f"Imported from {skeleton.source} by `simrig import-trace`. Field status",
        "(field-incidents.md): 1 preparing, 2 gun ready, 3 charging, 8 fault/offline-marked.",
        "A skeleton: set meta.case, the piles' profiles, the vehicles and the [[expect]] below.",
    ):
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    meta = tomlkit.table()
    meta.update(skeleton.meta)
    doc["meta"] = meta
    for key in ("piles", "vehicles", "users", "timeline", "network"):
        entries: list[_Entry] = getattr(skeleton, key)
        if entries:
            doc[key] = _aot(entries)
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment("Expectations, for you to fill (anomaly codes 1–11) and uncomment."))
    for s in skeleton.sessions:
        note = (
            f"session {s.index} on {s.pile} gun {s.gun}: lines {s.rows[0].line}–{s.rows[-1].line}"
        )
        if s.bill_id:
            note += f", bill {s.bill_id}"
        if s.energy_kwh is not None:
            note += f", {s.energy_kwh:g} kWh in the log"
        expect = tomlkit.document()
        table = tomlkit.table()
        table.update(
            {"pile": s.pile, "gun": s.gun, "session": s.index, "codes": [], "billed": True}
        )
        expect["expect"] = _aot([_Entry(table)])
        doc.add(tomlkit.nl())
        doc.add(tomlkit.comment(note))
        for line in tomlkit.dumps(expect).strip().splitlines():
            doc.add(tomlkit.comment(line))
    return tomlkit.dumps(doc)


def _aot(entries: list[_Entry]) -> AoT:
    aot = tomlkit.aot()
    for entry in entries:
        table: Table = tomlkit.table()
        if entry.why:
            table.add(tomlkit.comment(entry.why))
        for k, v in entry.data.items():
            if isinstance(v, dict):
                inline = tomlkit.inline_table()
                inline.update(v)
                table[k] = inline
            else:
                table[k] = v
        aot.append(table)
    return aot


def import_trace(
    text: str,
    *,
    source: str = "<trace>",
    name: str | None = None,
    profile: str = DEFAULT_PROFILE,
    gap_s: float | None = None,
    start: StartKind = "card",
) -> str:
    """A status CSV's text → the scenario TOML text (raises :class:`TraceError`)."""
    rows = parse_trace(text, source=source)
    scenario_name = name or f"import:{Path(source).stem}"
    skeleton = build_scenario(
        rows, name=scenario_name, profile=profile, gap_s=gap_s, start=start, source=source
    )
    return render_scenario(skeleton)


def import_trace_file(path: str | Path, **options: Any) -> str:
    """The file edge: read the CSV (UTF-8, BOM tolerated) and :func:`import_trace` it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{p}: cannot read: {exc}") from None
    return import_trace(text, source=str(p), **options)
