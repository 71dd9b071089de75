"""Platform view of the reference platform read over its HTTP API (a backend driver).

It is also the worked example of the oracle's plugin interface: a backend driver is any
callable ``make_view(backend_url) -> PlatformView`` (see :mod:`simrig.oracle.views`);
``simrig run --view simrig.adapters.http_view:make_view`` loads one by name.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from simrig.oracle.repository_view import RepositoryView
from simrig.platform.records import Bill, Notification, Session, record_from_dict


class _HttpRecords:
    """The three repository listings the oracle needs, fetched once over HTTP."""

    def __init__(self, base_url: str, timeout_s: float = 10.0, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=base_url, timeout=timeout_s, headers=headers) as client:
            self._bills = [record_from_dict(Bill, d) for d in self._get(client, "/bills")]
            self._sessions = [record_from_dict(Session, d) for d in self._get(client, "/sessions")]
            self._notices = [
                record_from_dict(Notification, d) for d in self._get(client, "/notifications")
            ]

    @staticmethod
    def _get(client: httpx.Client, path: str) -> list[dict[str, Any]]:
        try:
            response = client.get(path)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise OSError(f"{client.base_url}{path}: {exc}") from None
        data: list[dict[str, Any]] = response.json()
        return data

    def list_bills(self) -> list[Bill]:
        return self._bills

    def list_sessions(self) -> list[Session]:
        return self._sessions

    def list_notifications(self) -> list[Notification]:
        return self._notices


def http_view(base_url: str, token: str | None = None) -> RepositoryView:
    """The reference platform's view, read from ``base_url`` (its HTTP API) with the bearer
    ``token`` (default: the environment's ``SIMRIG_API_TOKEN``)."""
    if token is None:
        token = os.environ.get("SIMRIG_API_TOKEN")
    return RepositoryView(_HttpRecords(base_url, token=token))


def make_view(backend: str, api: str | None = None) -> RepositoryView:
    """Plugin entry point: ``api`` is the HTTP API base URL (``--view-arg``); the token is
    the environment's ``SIMRIG_API_TOKEN``."""
    if not api:
        raise ValueError("http_view needs the platform's HTTP API URL (--view-arg http://...)")
    return http_view(api)
