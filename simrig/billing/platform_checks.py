"""Moved to :mod:`simrig.platform.checks` (the platform's own bill checks); this old path
re-exports it so existing imports keep working."""

from simrig.platform.checks import (
    BillFacts,
    CheckLimits,
    PlatformRecord,
    check_bill,
    lost_bill_code,
    occupancy_fee,
    recompute_amount,
)

__all__ = [
    "BillFacts",
    "CheckLimits",
    "PlatformRecord",
    "check_bill",
    "lost_bill_code",
    "occupancy_fee",
    "recompute_amount",
]
