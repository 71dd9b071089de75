"""Fuzz the HTTP API from its own OpenAPI schema with schemathesis (issue 15 item 4),
against ``simrig platform serve`` in its own process: no 500s, and no operation that
answers without the bearer token (the ``ignored_auth`` check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simrig.adapters.platform_process import start_platform

#: test cases per operation and phase: about 800 requests, ~7 s on the CI machine
MAX_EXAMPLES = "30"


@pytest.mark.timeout(120)
def test_the_api_survives_schema_fuzzing_and_refuses_the_unauthenticated(tmp_path: Path) -> None:
    server = start_platform(
        [
            *("--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--demo"),
            *("--db", str(tmp_path / "p.sqlite")),
        ]
    )
    try:
        run = subprocess.run(
            [
                *(str(Path(sys.executable).parent / "schemathesis"), "run"),
                f"http://127.0.0.1:{server.http_port}/openapi.json",
                *("-H", f"Authorization: Bearer {server.api_token}"),
                *("--checks", "not_a_server_error,ignored_auth"),
                *("--phases", "coverage,fuzzing", "--max-examples", MAX_EXAMPLES),
                *("--seed", "15", "--no-shrink", "--workers", "1"),
                *("--report-dir", str(tmp_path / "report")),
            ],
            capture_output=True,
            text=True,
            timeout=100,
            cwd=tmp_path,
        )
        alive = server.proc.poll() is None
    finally:
        server.stop()
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary + run.stderr[-2000:]
    assert "passed" in summary and "generated" in summary, summary
    assert alive
    assert not [line for line in server.stderr_tail if "Traceback" in line]
