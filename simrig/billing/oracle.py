"""Moved to :mod:`simrig.oracle.judge`; this import path keeps working."""

from simrig.oracle.judge import *  # noqa: F403
