"""Moved to :mod:`simrig.sim.world`; this import path keeps working."""

from simrig.sim.world import *  # noqa: F403
