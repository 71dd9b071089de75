"""The reference platform: a YKC backend core (pure) with its rules, records and storage.

``PlatformCore(repo, rules=PlatformRules(), epoch=...)`` is the sans-IO server side of every
YKC frame; adapters (:mod:`simrig.adapters`) give it a TCP server, SQLite and an HTTP API.
"""

from .config import PlatformConfig, apply_config, parse_config
from .core import PlatformCore, PlatformError, model_message
from .demo import (
    DEMO_ACCOUNT,
    DEMO_APP_ACCOUNT,
    DEMO_CARD,
    DEMO_LOGICAL,
    DEMO_PILES,
    load_demo_dataset,
)
from .records import (
    OPEN_STATES,
    Account,
    AnomalyRecord,
    Bill,
    BmsSample,
    Card,
    Notification,
    NotificationKind,
    RealtimeSample,
    RegisteredGun,
    RegisteredPile,
    Session,
    SessionState,
    record_from_dict,
    record_to_dict,
)
from .repository import MemoryRepository, Repository
from .rules import PlatformRules, rules_from_mapping

__all__ = [
    "DEMO_ACCOUNT",
    "DEMO_APP_ACCOUNT",
    "DEMO_CARD",
    "DEMO_LOGICAL",
    "DEMO_PILES",
    "OPEN_STATES",
    "Account",
    "AnomalyRecord",
    "Bill",
    "BmsSample",
    "Card",
    "MemoryRepository",
    "Notification",
    "NotificationKind",
    "PlatformConfig",
    "PlatformCore",
    "PlatformError",
    "PlatformRules",
    "RealtimeSample",
    "RegisteredGun",
    "RegisteredPile",
    "Repository",
    "Session",
    "SessionState",
    "apply_config",
    "load_demo_dataset",
    "model_message",
    "parse_config",
    "record_from_dict",
    "record_to_dict",
    "rules_from_mapping",
]
