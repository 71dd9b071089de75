"""Moved to :mod:`simrig.sim.runner`; this import path keeps working."""

from simrig.sim.runner import *  # noqa: F403
