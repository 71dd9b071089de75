"""Moved to :mod:`simrig.domain.tariff` and :mod:`simrig.domain.money`; this import path
keeps working."""

from simrig.domain import *  # noqa: F403
from simrig.domain.tariff import *  # noqa: F403
