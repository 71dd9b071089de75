"""Behaviour is byte-identical to the stored golden digests (issue 10).

A change of behaviour on purpose regenerates them (``python -m tests.golden.digest
--write``) in a commit of its own that lists each changed scenario and why.
"""

from __future__ import annotations

import json

import pytest

from .digest import DIGESTS, golden_cases, run_case

STORED = json.loads(DIGESTS.read_text())


def test_every_golden_case_has_a_stored_digest():
    assert sorted(STORED) == sorted(golden_cases())


@pytest.mark.parametrize("name", golden_cases())
def test_run_matches_its_golden_digest(name):
    assert run_case(name) == STORED[name]
