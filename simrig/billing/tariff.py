"""Moved to :mod:`simrig.domain.tariff`; this import path keeps working."""

from simrig.domain.tariff import *  # noqa: F403
