"""Moved to :mod:`simrig.oracle.device_view`; this import path keeps working."""

from simrig.capture.record import Chunk  # noqa: F401
from simrig.oracle.device_view import *  # noqa: F403
