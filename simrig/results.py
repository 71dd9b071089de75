"""Moved to :mod:`simrig.sim.results`; this import path keeps working."""

from simrig.sim.results import *  # noqa: F403
