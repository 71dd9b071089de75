"""Every scenario of the incident library, on the backend given by ``--simrig-backend``.

On a ``tcp://`` backend, scenarios with app or balance steps (or ``[platform]`` rules) run
when ``--simrig-backend-control`` is given, and those judged from the platform's records
when ``--simrig-view`` is; the others are skipped with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from simrig.pytest_plugin import check, skip_reason
from simrig.scenarios import library_names, load_scenario


@pytest.mark.parametrize("name", library_names())
def test_incident(name: str, simrig_run: Any, request: pytest.FixtureRequest) -> None:
    reason = skip_reason(load_scenario(name), request.config)
    if reason:
        pytest.skip(reason)
    check(simrig_run(name))
