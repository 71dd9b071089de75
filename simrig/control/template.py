"""A declarative HTTP template (TOML) as a :class:`~simrig.control.BackendControl`.

One file describes every operation a third-party backend offers; an operation it does
not describe is refused with one line naming it and the file::

    [backend]
    base_url = "https://staging.example.com/api"
    timeout_s = 5
    headers = { Authorization = "Bearer ${env:SIMRIG_TOKEN}" }

    [app_start]
    method = "POST"
    url = "/orders"
    body = { pile = "${pile}", gun = "${gun}", user = "${account}", kwh = "${energy_kwh}" }
    order_id = "data.order.id"          # dotted path into the JSON reply
    status = [200, 201]                 # accepted status codes (default 200-204)

    [app_stop]
    method = "POST"
    url = "/orders/${order_id}/stop"

``${name}`` placeholders are filled per request (see :data:`PLACEHOLDERS`); a string that
is exactly one placeholder keeps the value's JSON type, and a missing value (a target not
given) drops its key. ``${env:NAME}`` is read from the environment when the file is
loaded; ``$$`` is a literal ``$``. ``query`` is a table of URL parameters; ``body`` a
table, an array or one placeholder (``body = "${tariff}"``), sent as JSON.
"""

from __future__ import annotations

import os
import re
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from simrig.domain.tariff import Tariff
from simrig.protocol.ykc import Message, encode_frame

from .base import (
    OPERATIONS,
    BaseControl,
    ControlError,
    ControlUnreachable,
    Site,
    SitePile,
    SiteUser,
    UnsupportedOperation,
)
from .platform_toml import rules_in_yuan, tariff_to_mapping

__all__ = ["PLACEHOLDERS", "HttpTemplateControl", "Operation", "Template", "TemplateError"]

_USER = ("account", "user", "card", "logical_card")
#: how long a request waits for a backend that refuses connections (one just started
#: beside the rig is still binding its port); a refused connect reached nothing, so
#: retrying it cannot submit anything twice
CONNECT_WAIT_S = 10.0
_CONNECT_RETRY_S = 0.2
#: the placeholders each operation may use
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "app_start": ("pile", "gun", *_USER, "energy_kwh", "amount_yuan", "time_min"),
    "app_stop": ("pile", "gun", *_USER, "order_id"),
    "send_command": ("pile", "frame_hex", "command"),
    "top_up": (*_USER, "yuan"),
    "set_balance": (*_USER, "yuan"),
    "register_pile": ("pile", "pile_type", "guns", "max_power_kw", "model_no"),
    "register_account": (*_USER, "balance_yuan"),
    "register_card": _USER,
    "set_tariff": ("tariff", "model_no"),
    "set_rules": ("rules",),
}
assert set(PLACEHOLDERS) == set(OPERATIONS)

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_OP_KEYS = {"method", "url", "headers", "query", "body", "order_id", "status"}
_BACKEND_KEYS = {"base_url", "timeout_s", "headers", "status"}
_DEFAULT_STATUS = (200, 201, 202, 204)
_TOKEN = re.compile(r"\$\$|\$\{([^{}]*)\}")
_NAME = re.compile(r"^(?:[a-z_]+|env:[A-Za-z_][A-Za-z0-9_]*)$")


class TemplateError(ValueError):
    """A broken template file: one line ``file:line: field: reason``."""


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    order_id: str | None = None
    status: tuple[int, ...] = _DEFAULT_STATUS


@dataclass(frozen=True)
class Template:
    source: str
    base_url: str
    timeout_s: float
    headers: dict[str, str]
    operations: dict[str, Operation]


# -- loading -------------------------------------------------------------------------------


def _line_of(lines: list[str], loc: tuple[str, ...]) -> int | None:
    """The line of ``loc`` (section, key, ...): its key line, else its table header."""

    def header(name: str) -> int | None:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(name)}\s*\]\s*(#.*)?$")
        return next((n for n, line in enumerate(lines) if pattern.match(line)), None)

    def key_in(start: int, key: str) -> int | None:
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*[=.]")
        for n in range(start + 1, len(lines)):
            if re.match(r"^\s*\[", lines[n]):
                return None
            if pattern.match(lines[n]):
                return n
        return None

    for depth in range(len(loc) - 1, 0, -1):  # [a.b] header then key c, else [a] then key b
        start = header(".".join(loc[:depth]))
        if start is not None:
            found = key_in(start, loc[depth])
            return (found if found is not None else start) + 1
    start = header(loc[0]) if loc else None
    return None if start is None else start + 1


class _Loader:
    def __init__(self, text: str, source: str, env: Mapping[str, str]) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.env = env

    def error(self, loc: tuple[str, ...], reason: str) -> TemplateError:
        line = _line_of(self.lines, loc)
        where = f"{self.source}:{line}" if line else self.source
        return TemplateError(f"{where}: {'.'.join(loc)}: {reason}")

    def text(self, value: Any, loc: tuple[str, ...], allowed: tuple[str, ...]) -> str:
        """Check placeholders; resolve ``${env:...}`` now (``$$`` stays for later)."""
        if not isinstance(value, str):
            raise self.error(loc, f"expected a string, got {value!r}")

        def resolve(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "$$"
            if not _NAME.match(name):
                raise self.error(loc, f"bad placeholder ${{{name}}}")
            if name.startswith("env:"):
                var = name[4:]
                if var not in self.env:
                    raise self.error(loc, f"environment variable {var} is not set")
                return self.env[var].replace("$", "$$")
            if name not in allowed:
                raise self.error(
                    loc, f"unknown placeholder ${{{name}}} (known here: {', '.join(allowed)})"
                )
            return match.group(0)

        return _TOKEN.sub(resolve, value)

    def tree(self, value: Any, loc: tuple[str, ...], allowed: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            return self.text(value, loc, allowed)
        if isinstance(value, Mapping):
            return {k: self.tree(v, (*loc, str(k)), allowed) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v, (*loc, str(i)), allowed) for i, v in enumerate(value)]
        return value

    def status(self, value: Any, loc: tuple[str, ...]) -> tuple[int, ...]:
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int) and 100 <= v <= 599 for v in value)
        ):
            raise self.error(loc, f"expected HTTP status codes like [200, 201], got {value!r}")
        return tuple(value)

    def headers(self, value: Any, loc: tuple[str, ...], allowed: tuple[str, ...]) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise self.error(loc, "expected a table of header = value")
        return {str(k): self.text(v, (*loc, str(k)), allowed) for k, v in value.items()}

    def load(self, data: Mapping[str, Any]) -> Template:
        unknown = sorted(set(data) - {"backend", *OPERATIONS})
        if unknown:
            raise self.error(
                (unknown[0],), f"unknown operation (known: backend, {', '.join(OPERATIONS)})"
            )
        backend = data.get("backend", {})
        if not isinstance(backend, Mapping):
            raise self.error(("backend",), "expected a table")
        bad = sorted(set(backend) - _BACKEND_KEYS)
        if bad:
            raise self.error(("backend", bad[0]), f"unknown key (known: {sorted(_BACKEND_KEYS)})")
        base_url = self.text(backend.get("base_url", ""), ("backend", "base_url"), ())
        timeout = backend.get("timeout_s", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise self.error(("backend", "timeout_s"), f"expected seconds > 0, got {timeout!r}")
        headers = self.headers(backend.get("headers", {}), ("backend", "headers"), ())
        status = self.status(backend.get("status", list(_DEFAULT_STATUS)), ("backend", "status"))
        ops = {
            name: self.operation(name, data[name], base_url, status)
            for name in OPERATIONS
            if name in data
        }
        # the backend's URL and headers take no per-request values: final now
        headers = {k: _fill_text(v, {}) for k, v in headers.items()}
        return Template(self.source, _fill_text(base_url, {}), float(timeout), headers, ops)

    def operation(self, name: str, table: Any, base_url: str, status: tuple[int, ...]) -> Operation:
        if not isinstance(table, Mapping):
            raise self.error((name,), "expected a table [" + name + "]")
        bad = sorted(set(table) - _OP_KEYS)
        if bad:
            raise self.error((name, bad[0]), f"unknown key (known: {sorted(_OP_KEYS)})")
        allowed = PLACEHOLDERS[name]
        method = table.get("method", "POST")
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise self.error((name, "method"), f"expected one of {', '.join(_METHODS)}")
        if "url" not in table:
            raise self.error((name, "url"), "missing")
        url = self.text(table["url"], (name, "url"), allowed)
        if not re.match(r"^https?://", url) and not base_url:
            raise self.error((name, "url"), "a relative URL needs [backend] base_url")
        query = table.get("query", {})
        if not isinstance(query, Mapping):
            raise self.error((name, "query"), "expected a table of parameter = value")
        body = table.get("body")
        whole = isinstance(body, str) and _TOKEN.fullmatch(body) and not body.startswith("$$")
        if body is not None and not (isinstance(body, Mapping | list) or whole):
            raise self.error(
                (name, "body"), 'expected a table, an array or one placeholder like "${tariff}"'
            )
        order_id = table.get("order_id")
        if order_id is not None and (name != "app_start" or not isinstance(order_id, str)):
            raise self.error((name, "order_id"), "only app_start reads an order id (a string)")
        return Operation(
            name=name,
            method=method.upper(),
            url=url,
            headers=self.headers(table.get("headers", {}), (name, "headers"), allowed),
            query=self.tree(dict(query), (name, "query"), allowed),
            body=None if body is None else self.tree(body, (name, "body"), allowed),
            order_id=order_id,
            status=self.status(table["status"], (name, "status")) if "status" in table else status,
        )


def parse_template(
    text: str, *, source: str = "control.toml", env: Mapping[str, str] | None = None
) -> Template:
    """Parse a template; a broken one raises :class:`TemplateError` (file, line, field)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{source}: TOML syntax: {exc}") from None
    return _Loader(text, source, os.environ if env is None else env).load(data)


def load_template(path: str | Path) -> Template:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: {exc.strerror or exc}") from None
    return parse_template(text, source=str(path))


# -- filling -------------------------------------------------------------------------------


def _fill_text(text: str, values: Mapping[str, Any], quote_values: bool = False) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        value = values.get(name)
        out = "" if value is None else str(value)
        return quote(out, safe="") if quote_values else out

    return _TOKEN.sub(one, text)


_MISSING = object()


def _fill(value: Any, values: Mapping[str, Any]) -> Any:
    """Fill a JSON tree: an exact ``${name}`` keeps its type; a missing value drops its key."""
    if isinstance(value, str):
        exact = _TOKEN.fullmatch(value)
        if exact and exact.group(1) is not None:
            found = values.get(exact.group(1))
            return _MISSING if found is None else found
        return _fill_text(value, values)
    if isinstance(value, Mapping):
        filled = {k: _fill(v, values) for k, v in value.items()}
        return {k: v for k, v in filled.items() if v is not _MISSING}
    if isinstance(value, list):
        return [None if v is _MISSING else v for v in (_fill(v, values) for v in value)]
    return value


def json_path(data: Any, path: str) -> Any:
    """``a.b.0.c`` into parsed JSON; ``KeyError`` naming the first missing part."""
    for part in path.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif (
            isinstance(data, list)
            and part.lstrip("-").isdigit()
            and -len(data) <= int(part) < len(data)
        ):
            data = data[int(part)]
        else:
            raise KeyError(part)
    return data


# -- the control ---------------------------------------------------------------------------


class HttpTemplateControl(BaseControl):
    """Runs a :class:`Template`'s requests with httpx."""

    def __init__(self, template: Template, client: httpx.Client | None = None) -> None:
        self.template = template
        self.name = f"template {template.source}"
        self.client = client or httpx.Client(
            base_url=template.base_url, timeout=template.timeout_s, headers=template.headers
        )
        self._users: dict[str, SiteUser] = {}
        #: (pile, gun) → (order id, account) of the last app start
        self._orders: dict[tuple[str, int], tuple[str, str]] = {}

    def supports(self, operation: str) -> bool:
        return operation in self.template.operations

    def refusal(self, operation: str) -> UnsupportedOperation:
        """The one-line error refusing ``operation``."""
        return UnsupportedOperation(
            f"{operation}: not offered by template {self.template.source} "
            f"(it has no [{operation}] table)"
        )

    def call(self, operation: str, values: Mapping[str, Any]) -> Any:
        """Send one operation's request; the parsed JSON reply (None if empty)."""
        op = self.template.operations.get(operation)
        if op is None:
            raise self.refusal(operation)
        url = _fill_text(op.url, values, quote_values=True)
        headers = {k: _fill_text(v, values) for k, v in op.headers.items()}
        query = _fill(op.query, values)
        body = None if op.body is None else _fill(op.body, values)
        where = f"{self.template.source}: {operation}: {op.method} {url}"
        deadline = time.monotonic() + CONNECT_WAIT_S
        while True:
            try:
                response = self.client.request(
                    op.method,
                    url,
                    headers=headers,
                    params=query or None,
                    json=None if body is _MISSING else body,
                )
                break
            except httpx.ConnectError as exc:
                if time.monotonic() >= deadline:
                    raise ControlUnreachable(
                        f"{where}: backend {self.client.base_url} unreachable for "
                        f"{CONNECT_WAIT_S:g} s ({exc})"
                    ) from None
                time.sleep(_CONNECT_RETRY_S)
            except httpx.HTTPError as exc:
                raise ControlError(f"{where}: {exc}") from None
        if response.status_code not in op.status:
            text = " ".join(response.text.split())[:200]
            expected = ", ".join(map(str, op.status))
            raise ControlError(f"{where} → {response.status_code} (expected {expected}): {text}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def _user_values(self, account: str) -> dict[str, Any]:
        user = self._users.get(account)
        return {
            "account": account,
            "user": user.name if user else account,
            "card": user.card if user else None,
            "logical_card": user.logical_card if user else None,
        }

    def provision(self, site: Site) -> None:
        self._users = {u.account: u for u in site.users}
        super().provision(site)

    def app_start(
        self,
        pile_no: str,
        gun: int,
        account: str,
        now: float,
        *,
        energy_target: float | None = None,
        amount_target: float | None = None,
        time_target_min: int | None = None,
    ) -> str:
        values = {
            "pile": pile_no,
            "gun": gun,
            **self._user_values(account),
            "energy_kwh": energy_target,
            "amount_yuan": amount_target,
            "time_min": time_target_min,
        }
        reply = self.call("app_start", values)
        path = self.template.operations["app_start"].order_id
        order = ""
        if path:
            try:
                order = str(json_path(reply, path))
            except KeyError as exc:
                raise ControlError(
                    f"{self.template.source}: app_start: the reply has no {path} "
                    f"(missing {exc.args[0]!r}): {str(reply)[:200]}"
                ) from None
        self._orders[pile_no, gun] = (order, account)
        return order

    def app_stop(self, pile_no: str, gun: int, now: float) -> None:
        order, account = self._orders.get((pile_no, gun), ("", ""))
        values = {
            "pile": pile_no,
            "gun": gun,
            **self._user_values(account),
            "order_id": order or None,
        }
        self.call("app_stop", values)

    def send_command(self, pile_no: str, message: Message, now: float) -> None:
        values = {
            "pile": pile_no,
            "frame_hex": encode_frame(message).hex(),
            "command": type(message).__name__,
        }
        self.call("send_command", values)

    def top_up(self, account: str, yuan: float, now: float) -> None:
        self.call("top_up", {**self._user_values(account), "yuan": yuan})

    def set_balance(self, account: str, yuan: float, now: float) -> None:
        self.call("set_balance", {**self._user_values(account), "yuan": yuan})

    def register_pile(self, pile: SitePile) -> None:
        values = {
            "pile": pile.pile_no,
            "pile_type": pile.kind,
            "guns": pile.guns,
            "max_power_kw": pile.max_power_kw,
            "model_no": pile.model_no,
        }
        self.call("register_pile", values)

    def register_account(self, user: SiteUser) -> None:
        self.call(
            "register_account",
            {**self._user_values(user.account), "balance_yuan": user.balance_yuan},
        )

    def register_card(self, user: SiteUser) -> None:
        self.call("register_card", self._user_values(user.account))

    def set_tariff(self, tariff: Tariff) -> None:
        self.call("set_tariff", {"tariff": tariff_to_mapping(tariff), "model_no": tariff.model_no})

    def set_rules(self, rules: Mapping[str, Any]) -> None:
        self.call("set_rules", {"rules": rules_in_yuan(rules)})

    def close(self) -> None:
        self.client.close()
