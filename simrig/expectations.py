"""Moved to :mod:`simrig.sim.expectations`; this import path keeps working."""

from simrig.sim.expectations import *  # noqa: F403
