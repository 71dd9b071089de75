"""Moved to :mod:`simrig.oracle.repository_view`; this import path keeps working."""

from simrig.oracle.repository_view import *  # noqa: F403
