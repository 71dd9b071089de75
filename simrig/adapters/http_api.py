"""The platform's HTTP JSON API (FastAPI): the platform view and the "app" role.

``GET /piles /sessions /sessions/{serial} /sessions/{serial}/realtime /bills /notifications
/anomalies /accounts``; ``POST /sessions/start`` and ``/sessions/stop``; ``/openapi.json``.
Provisioning (the only way in besides ``--config``): ``PUT /piles/{pile_no}``,
``PUT /accounts/{id}``, ``PUT /cards/{physical}``, ``PUT /tariff``, ``PATCH /rules``; balances:
``POST /accounts/{id}/balance``. With a token (the default of ``simrig platform serve``,
issue 15 item 4) every request needs ``Authorization: Bearer <token>`` — reads too, since
accounts and bills are private; only the API documentation (``/docs``, ``/redoc``,
``/openapi.json``, served from local assets: no CDN) is open. Handlers run on the
server's event loop (async), so they share the core safely.
"""

from __future__ import annotations

import dataclasses
import hmac
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from simrig.adapters.tcp_server import PlatformServer
from simrig.domain.money import money_from_yuan
from simrig.domain.tariff import TariffError, tariff_from_mapping
from simrig.platform import PlatformError, record_to_dict
from simrig.platform.config import MONEY_RULES
from simrig.platform.records import Account, Card, RegisteredPile
from simrig.platform.rules import rules_from_mapping
from simrig.protocol.ykc import DecodeError, decode_frame

__all__ = [
    "AccountRequest",
    "BalanceRequest",
    "CardRequest",
    "CommandRequest",
    "PileRequest",
    "StartRequest",
    "StopRequest",
    "create_app",
]


#: bounds of money (yuan) and energy (kWh) in requests: far beyond any real account
MAX_YUAN = 1e9
MAX_KWH = 1e6
#: what a malformed tariff or rules body raises while parsed (a 422, never a 500)
_BODY_ERRORS = (TariffError, ValueError, TypeError, KeyError, ArithmeticError, AttributeError)


class StartRequest(BaseModel):
    pile_no: str = Field(pattern=r"^\d{14}$")
    gun: int = Field(1, ge=1, le=99)
    account: str
    energy_target: float | None = Field(None, ge=0, le=MAX_KWH, description="kWh")
    amount_target: float | None = Field(None, ge=0, le=MAX_YUAN, description="yuan")
    time_target_min: int | None = Field(None, ge=0, le=65_535)
    parallel_id: str | None = Field(
        None, pattern=r"^\d{12}$", description="a parallel charge (0xA4): YYMMDDhhmmss"
    )


class CommandRequest(BaseModel):
    frame_hex: str = Field(description="a whole downlink YKC frame (0x92, 0x94, 0x52, 0x58...)")


class StopRequest(BaseModel):
    pile_no: str = Field(pattern=r"^\d{14}$")
    gun: int = Field(1, ge=1, le=99)


class BalanceRequest(BaseModel):
    yuan: float = Field(ge=-MAX_YUAN, le=MAX_YUAN, allow_inf_nan=False)
    mode: Literal["add", "set"] = Field("add", description="add to the balance, or set it")


class PileRequest(BaseModel):
    type: Literal["DC", "AC"] = "DC"
    guns: int = Field(1, ge=1, le=99)
    model_no: str = Field("0100", pattern=r"^\d{4}$")
    max_power_kw: float = Field(120.0, gt=0, le=10_000, allow_inf_nan=False)
    enabled: bool = True
    station: str = ""


class AccountRequest(BaseModel):
    name: str = ""
    balance: float = Field(0.0, ge=-MAX_YUAN, le=MAX_YUAN, allow_inf_nan=False, description="yuan")
    frozen: bool = False
    logical_card: str = Field("0" * 16, pattern=r"^\d{1,16}$")
    vins: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]{17}$")]] = Field(
        default_factory=list, description="vehicles that may start by VIN (0x31 mode 0x03)"
    )


class CardRequest(BaseModel):
    logical: str = Field(pattern=r"^\d{1,16}$")
    account_id: str
    frozen: bool = False
    password_md5: str = ""


def _rows(records: list[Any]) -> list[dict[str, Any]]:
    return [record_to_dict(r) for r in records]


#: the bearer scheme (declared in the OpenAPI schema: Swagger UI's "Authorize" button)
_BEARER = HTTPBearer(auto_error=False, description="the token printed at start, or --api-token")

#: the API documentation: open without a token (it holds no platform data)
_OPEN_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def create_app(server: PlatformServer, token: str | None = None) -> FastAPI:
    """The API of one running platform server; ``token``: the bearer token every request
    needs (None: no authentication)."""
    core = server.core
    repo = core.repo
    expected = f"Bearer {token}".encode()

    async def authorised(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        """With a token, every request but the documentation's must carry it."""
        if token is None or request.url.path in _OPEN_PATHS:
            return
        given = request.headers.get("authorization", "").encode()
        if credentials is None or not hmac.compare_digest(given, expected):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    app = FastAPIOffline(
        title="simrig reference platform", version="1", dependencies=[Depends(authorised)]
    )

    @app.get("/piles")
    async def piles() -> list[dict[str, Any]]:
        out = []
        for pile in repo.list_piles():
            row = record_to_dict(pile)
            row["online"] = core.is_online(pile.pile_no)
            row["guns_state"] = _rows(repo.list_guns(pile.pile_no))
            out.append(row)
        return out

    @app.get("/sessions")
    async def sessions() -> list[dict[str, Any]]:
        return _rows(repo.list_sessions())

    @app.get("/sessions/{serial}")
    async def session(serial: str) -> dict[str, Any]:
        found = repo.get_session(serial)
        if found is None:
            raise HTTPException(404, f"no session {serial}")
        return record_to_dict(found)

    @app.get("/sessions/{serial}/realtime")
    async def realtime(serial: str) -> list[dict[str, Any]]:
        return _rows(repo.list_realtime(serial))

    @app.get("/sessions/{serial}/bms")
    async def bms(serial: str) -> list[dict[str, Any]]:
        """The order's BMS frames (0x23 demand/output, 0x25 BMS info), in order."""
        return _rows(repo.list_bms(serial))

    @app.get("/bills")
    async def bills() -> list[dict[str, Any]]:
        return _rows(repo.list_bills())

    @app.get("/notifications")
    async def notifications() -> list[dict[str, Any]]:
        return _rows(repo.list_notifications())

    @app.get("/anomalies")
    async def anomalies() -> list[dict[str, Any]]:
        return _rows(repo.list_anomalies())

    @app.get("/accounts")
    async def accounts() -> list[dict[str, Any]]:
        return _rows(repo.list_accounts())

    @app.post("/sessions/start")
    async def start(req: StartRequest) -> dict[str, Any]:
        try:
            serial = core.app_start(
                req.pile_no,
                req.gun,
                req.account,
                server.now(),
                energy_target=req.energy_target,
                amount_target=req.amount_target,
                time_target_min=req.time_target_min,
                parallel_id=req.parallel_id,
            )
        except PlatformError as err:
            raise HTTPException(409, str(err)) from None
        finally:
            server.pump()
        return {"serial": serial}

    @app.post("/sessions/stop")
    async def stop(req: StopRequest) -> dict[str, Any]:
        try:
            core.app_stop(req.pile_no, req.gun, server.now())
        except PlatformError as err:
            raise HTTPException(409, str(err)) from None
        finally:
            server.pump()
        return {"ok": True}

    @app.post("/piles/{pile_no}/command")
    async def command(pile_no: str, req: CommandRequest) -> dict[str, Any]:
        """Send a downlink frame (reboot, upgrade, work params, model push...) to a pile."""
        try:
            frame = decode_frame(bytes.fromhex(req.frame_hex))
        except (ValueError, DecodeError) as err:
            raise HTTPException(422, f"frame_hex: {err}") from None
        if frame.type % 2:
            raise HTTPException(422, f"frame_hex: 0x{frame.type:02X} is an uplink frame")
        try:
            core.send_command(pile_no, frame.message, server.now())
        except PlatformError as err:
            raise HTTPException(409, str(err)) from None
        finally:
            server.pump()
        return {"ok": True, "type": frame.type, "name": frame.name}

    @app.post("/accounts/{account_id}/balance")
    async def balance(account_id: str, req: BalanceRequest) -> dict[str, Any]:
        """Top up (``mode = "add"``) or set an account's balance, in yuan."""
        found = repo.get_account(account_id)
        if found is None:
            raise HTTPException(404, f"no account {account_id}")
        base = found.balance if req.mode == "add" else 0
        changed = dataclasses.replace(found, balance=base + money_from_yuan(req.yuan))
        repo.put_account(changed)
        pushed = core.push_balance(account_id, server.now())
        server.pump()
        return {**record_to_dict(changed), "pushed": pushed}

    @app.put("/piles/{pile_no}")
    async def put_pile(pile_no: str, req: PileRequest) -> dict[str, Any]:
        """Register (or change) a pile; its billing model ``model_no`` must be a tariff."""
        if len(pile_no) != 14 or not pile_no.isdigit():
            raise HTTPException(422, f"pile_no {pile_no!r} is not 14 digits")
        old = repo.get_pile(pile_no) or RegisteredPile(pile_no)
        pile = dataclasses.replace(
            old,
            pile_type=req.type,
            guns=req.guns,
            model_no=req.model_no,
            max_power_kw=req.max_power_kw,
            enabled=req.enabled,
            station=req.station,
        )
        repo.put_pile(pile)
        core.reload_piles()
        return record_to_dict(pile)

    @app.put("/accounts/{account_id}")
    async def put_account(account_id: str, req: AccountRequest) -> dict[str, Any]:
        account = Account(
            account_id=account_id,
            name=req.name,
            balance=money_from_yuan(req.balance),
            frozen=req.frozen,
            logical_card=req.logical_card.rjust(16, "0"),
            vins=tuple(v.upper() for v in req.vins),
        )
        repo.put_account(account)
        pushed = core.push_balance(account_id, server.now())
        server.pump()
        return {**record_to_dict(account), "pushed": pushed}

    @app.put("/cards/{physical}")
    async def put_card(physical: str, req: CardRequest) -> dict[str, Any]:
        if len(physical) > 16 or any(c not in "0123456789abcdefABCDEF" for c in physical):
            raise HTTPException(422, f"physical card {physical!r} is not 16 hex digits")
        card = Card(
            physical=physical.upper().rjust(16, "0"),
            logical=req.logical.rjust(16, "0"),
            account_id=req.account_id,
            frozen=req.frozen,
            password_md5=req.password_md5,
        )
        repo.put_card(card)
        return record_to_dict(card)

    @app.put("/tariff")
    async def put_tariff(body: dict[str, Any]) -> dict[str, Any]:
        """A billing model, as the ``[tariff]`` table of ``platform.toml``."""
        try:
            tariff = tariff_from_mapping(body, source="body")
        except _BODY_ERRORS as err:
            raise HTTPException(422, str(err)) from None
        repo.put_tariff(tariff)
        core.reload_piles()
        return {"model_no": tariff.model_no}

    @app.patch("/rules")
    async def patch_rules(body: dict[str, Any]) -> dict[str, Any]:
        """Change the given rules (as ``[rules]`` of ``platform.toml``: money in yuan)."""
        raw = dict(body)
        try:
            for key in MONEY_RULES:
                if key in raw:
                    raw[key] = money_from_yuan(raw[key])
            merged = {**dataclasses.asdict(core.rules), **raw}
            rules = rules_from_mapping(merged, source="body")
        except _BODY_ERRORS as err:
            raise HTTPException(422, str(err)) from None
        core.set_rules(rules)
        return {k: v for k, v in dataclasses.asdict(rules).items() if k in body}

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        return server.stats()

    return app
