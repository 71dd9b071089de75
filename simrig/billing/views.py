"""Moved to :mod:`simrig.oracle.views`; this import path keeps working."""

from simrig.oracle.views import *  # noqa: F403
