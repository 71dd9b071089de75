"""YKC and the HTTP API inside TLS, with client certificates for the piles (issue 15:
OCPP security profiles 2/3 at the transport, since the YKC login has no credential);
``simrig platform serve`` in its own process, certificates from trustme."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
import trustme

from simrig.adapters.platform_process import start_platform
from simrig.protocol.ykc import LoginReply, LoginResult

from .conftest import SocketPile


async def _tls_pile(port: int, ctx: ssl.SSLContext) -> SocketPile:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1"), 5
    )
    return SocketPile(reader, writer, "32010200000001")


@pytest.mark.timeout(60)
def test_piles_with_a_client_certificate_log_in_over_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    server_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    process = start_platform(
        [
            *("--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--demo"),
            *("--db", str(tmp_path / "p.sqlite")),
            *("--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")),
            *("--tls-client-ca", str(tmp_path / "ca.pem")),
        ]
    )

    async def scenario() -> None:
        with_cert = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        ca.issue_cert("pile-32010200000001").configure_cert(with_cert)
        pile = await _tls_pile(process.port, with_cert)
        await pile.send(pile.login())
        assert (await pile.expect(LoginReply)).result == LoginResult.OK
        pile.close()
        without = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with pytest.raises((ssl.SSLError, ConnectionError, TimeoutError)):
            stranger = await _tls_pile(process.port, without)
            await stranger.send(stranger.login())
            await stranger.expect(LoginReply, timeout=3)
        plain = await SocketPile.connect(process.port)
        await plain.send(plain.login())
        with pytest.raises((ConnectionError, TimeoutError)):
            await plain.expect(LoginReply, timeout=3)

    try:
        asyncio.run(scenario())
        api = httpx.get(
            f"https://127.0.0.1:{process.http_port}/piles",
            headers=process.api_headers,
            verify=ssl.create_default_context(cafile=str(tmp_path / "ca.pem")),
            timeout=10,
        )
        assert api.status_code == 200 and len(api.json()) == 3
    finally:
        process.stop()
