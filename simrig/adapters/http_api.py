"""The platform's HTTP JSON API (FastAPI): the platform view and the "app" role.

``GET /piles /sessions /sessions/{serial} /sessions/{serial}/realtime /bills /notifications
/anomalies /accounts``; ``POST /sessions/start`` and ``/sessions/stop``; ``/openapi.json``.
Handlers run on the server's event loop (async), so they share the core safely.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from simrig.adapters.tcp_server import PlatformServer
from simrig.platform import PlatformError, record_to_dict
from simrig.protocol.ykc import DecodeError, decode_frame

__all__ = ["CommandRequest", "StartRequest", "StopRequest", "create_app"]


class StartRequest(BaseModel):
    pile_no: str = Field(pattern=r"^\d{14}$")
    gun: int = Field(1, ge=1, le=99)
    account: str
    energy_target: float | None = Field(None, description="kWh")
    amount_target: float | None = Field(None, description="yuan")
    time_target_min: int | None = None


class CommandRequest(BaseModel):
    frame_hex: str = Field(description="a whole downlink YKC frame (0x92, 0x94, 0x52, 0x58...)")


class StopRequest(BaseModel):
    pile_no: str = Field(pattern=r"^\d{14}$")
    gun: int = Field(1, ge=1, le=99)


def _rows(records: list[Any]) -> list[dict[str, Any]]:
    return [record_to_dict(r) for r in records]


def create_app(server: PlatformServer) -> FastAPI:
    """The API of one running platform server."""
    core = server.core
    repo = core.repo
    app = FastAPI(title="simrig reference platform", version="1")

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

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        return server.stats()

    return app
