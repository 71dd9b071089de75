"""Moved to :mod:`simrig.domain.anomaly`; this import path keeps working."""

from simrig.domain.anomaly import *  # noqa: F403
