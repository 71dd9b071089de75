"""The long-run garbage-collector policy is scoped: everything is restored afterwards."""

from __future__ import annotations

import gc

import pytest

from simrig.gc_policy import FULL_COLLECTION_EVERY, few_full_collections


def test_full_collections_are_rare_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with few_full_collections():
        assert gc.get_threshold() == (before[0], before[1], FULL_COLLECTION_EVERY)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_when_the_run_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), few_full_collections():
        raise RuntimeError("run failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_young_cycles_are_still_collected() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    with few_full_collections():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect(0) + gc.collect(1) >= 2
