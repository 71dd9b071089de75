"""The "app" role over the reference platform's HTTP API (for ``embedded-tcp`` runs)."""

from __future__ import annotations

from typing import Any

import httpx

from simrig.protocol.ykc import Message, encode_frame


class AppError(RuntimeError):
    """The backend refused an app request (one-line reason)."""


class HttpAppClient:
    """Start/stop sessions and send commands through ``POST /sessions/*``, ``/piles/*``."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise AppError(f"{path}: {exc}") from None
        if response.status_code >= 400:
            detail = response.json().get("detail", response.text)
            raise AppError(f"{path}: {response.status_code} {detail}")
        result: dict[str, Any] = response.json()
        return result

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
        targets = {
            "energy_target": energy_target,
            "amount_target": amount_target,
            "time_target_min": time_target_min,
        }
        body = {"pile_no": pile_no, "gun": gun, "account": account}
        body |= {k: v for k, v in targets.items() if v is not None}
        return str(self._post("/sessions/start", body)["serial"])

    def app_stop(self, pile_no: str, gun: int, now: float) -> None:
        self._post("/sessions/stop", {"pile_no": pile_no, "gun": gun})

    def send_command(self, pile_no: str, message: Message, now: float) -> None:
        self._post(f"/piles/{pile_no}/command", {"frame_hex": encode_frame(message).hex()})

    def close(self) -> None:
        self.client.close()
