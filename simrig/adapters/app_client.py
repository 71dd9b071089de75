"""The reference platform's :class:`~simrig.control.BackendControl` over its HTTP API
(``embedded-tcp`` runs, or any ``simrig platform serve``): app role, balances, commands,
provisioning."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from simrig.control.base import BaseControl, ControlError, SitePile, SiteUser
from simrig.control.platform_toml import rules_in_yuan, tariff_to_mapping
from simrig.domain.tariff import Tariff
from simrig.protocol.ykc import Message, encode_frame

__all__ = ["AppError", "HttpAppClient"]

#: the old name of :class:`~simrig.control.ControlError`
AppError = ControlError


class HttpAppClient(BaseControl):
    """Start/stop sessions, send commands, change balances and provision through the
    platform's HTTP API (``token``: sent as a bearer token; default: the environment's
    ``SIMRIG_API_TOKEN``, as ``simrig platform serve`` reads it)."""

    def __init__(self, base_url: str, timeout_s: float = 5.0, token: str | None = None) -> None:
        if token is None:
            token = os.environ.get("SIMRIG_API_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s, headers=headers)
        self.name = f"the reference platform at {base_url}"

    def _call(self, method: str, path: str, body: Any) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ControlError(f"{path}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ControlError(f"{path}: {response.status_code} {detail}")
        result: dict[str, Any] = response.json()
        return result

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", path, body)

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

    def top_up(self, account: str, yuan: float, now: float) -> None:
        self._post(f"/accounts/{account}/balance", {"yuan": yuan, "mode": "add"})

    def set_balance(self, account: str, yuan: float, now: float) -> None:
        self._post(f"/accounts/{account}/balance", {"yuan": yuan, "mode": "set"})

    def register_pile(self, pile: SitePile) -> None:
        body = {
            "type": pile.kind,
            "guns": pile.guns,
            "model_no": pile.model_no,
            "max_power_kw": pile.max_power_kw,
        }
        self._call("PUT", f"/piles/{pile.pile_no}", body)

    def register_account(self, user: SiteUser) -> None:
        body = {"name": user.name, "balance": user.balance_yuan, "logical_card": user.logical_card}
        self._call("PUT", f"/accounts/{user.account}", body)

    def register_card(self, user: SiteUser) -> None:
        body = {"logical": user.logical_card, "account_id": user.account}
        self._call("PUT", f"/cards/{user.card}", body)

    def set_tariff(self, tariff: Tariff) -> None:
        self._call("PUT", "/tariff", tariff_to_mapping(tariff))

    def set_rules(self, rules: Mapping[str, Any]) -> None:
        self._call("PATCH", "/rules", rules_in_yuan(rules))

    def close(self) -> None:
        self.client.close()
