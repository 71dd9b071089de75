"""Every scenario of the incident library, on the backend given by ``--simrig-backend``.

Scenarios that need the backend's API (app starts, platform records) are skipped with a
reason on a plain ``tcp://`` backend; the rest are judged from the frames.
"""

from __future__ import annotations

from typing import Any

import pytest

from simrig.pytest_plugin import check
from simrig.scenarios import library_names, load_scenario


@pytest.mark.parametrize("name", library_names())
def test_incident(name: str, simrig_backend: str, simrig_run: Any) -> None:
    scenario = load_scenario(name)
    if simrig_backend.startswith("tcp://") and scenario.meta.needs_backend_api:
        pytest.skip(f"{scenario.meta.name} needs the backend's app API / records")
    check(simrig_run(name))
