"""Enumerations of the YKC v1.5/v1.6 protocol (protocol-ykc §4, §8 item 7).

Result codes have a *per-frame polarity* (§8 item 7): each frame's result field gets
its own enum so that ``0x00`` can never be read with the wrong meaning.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AckResult",
    "AuthFailure",
    "BalanceUpdateResult",
    "Carrier",
    "Confirm",
    "Execution",
    "GunHealth",
    "GunStatus",
    "LockAction",
    "LockState",
    "LoginResult",
    "ModelCheck",
    "NetworkType",
    "PileType",
    "RemoteStartFailure",
    "RemoteStopFailure",
    "StartMode",
    "StopReason",
    "TransactionSource",
    "TriState",
    "UpgradePileModel",
    "UpgradeResult",
    "WorkState",
    "stop_category",
]


class PileType(IntEnum):
    """Pile type in the 0x01 login (§4.1): 0 = DC, 1 = AC (not the 0x94 coding)."""

    DC = 0
    AC = 1


class UpgradePileModel(IntEnum):
    """Pile model in the 0x94 upgrade command (§4.16): 1 = DC, 2 = AC (§8 item 6)."""

    DC = 1
    AC = 2


class NetworkType(IntEnum):
    """Network link type reported at login (§4.1)."""

    SIM = 0
    LAN = 1
    WAN = 2
    OTHER = 3


class Carrier(IntEnum):
    """Mobile carrier reported at login (§4.1); 0x01 is not defined by the spec."""

    CHINA_MOBILE = 0
    CHINA_TELECOM = 2
    CHINA_UNICOM = 3
    OTHER = 4


class LoginResult(IntEnum):
    """0x02 login reply result (§4.2): 0x00 is success."""

    OK = 0
    FAILED = 1


class GunHealth(IntEnum):
    """0x03 heartbeat gun state (§4.3)."""

    NORMAL = 0
    FAULT = 1


class ModelCheck(IntEnum):
    """0x06 billing-model verify result (§4.4): 0x00 = the pile's model matches."""

    MATCH = 0
    DIFFERS = 1


class GunStatus(IntEnum):
    """0x13 gun status (§4.6). Note: 1 is *fault*, never "preparing" (field-incidents)."""

    OFFLINE = 0
    FAULT = 1
    IDLE = 2
    CHARGING = 3


class TriState(IntEnum):
    """0x13 "gun returned to holster" (§4.6)."""

    NO = 0
    YES = 1
    UNKNOWN = 2


class StartMode(IntEnum):
    """0x31 start mode (§4.7)."""

    CARD = 1
    ACCOUNT = 2
    VIN = 3


class Confirm(IntEnum):
    """Result field of 0x32/0x33/0x35/0x43/0x51/0x57/0x91/0xF1: 0x01 is success (§8 item 7)."""

    FAILED = 0
    OK = 1


class AuthFailure(IntEnum):
    """0x32 card/VIN authorisation failure reason (§4.8)."""

    NONE = 0x00
    ACCOUNT_NOT_FOUND = 0x01
    ACCOUNT_FROZEN = 0x02
    INSUFFICIENT_BALANCE = 0x03
    CARD_UNSETTLED_RECORD = 0x04
    PILE_DISABLED = 0x05
    NOT_ALLOWED_ON_PILE = 0x06
    WRONG_PASSWORD = 0x07
    STATION_CAPACITY = 0x08
    VIN_NOT_REGISTERED = 0x09
    PILE_UNSETTLED_RECORD = 0x0A
    CARD_NOT_SUPPORTED = 0x0B


class RemoteStartFailure(IntEnum):
    """0x33 remote-start failure reason (§4.10)."""

    NONE = 0
    PILE_MISMATCH = 1
    GUN_BUSY = 2
    EQUIPMENT_FAULT = 3
    EQUIPMENT_OFFLINE = 4
    GUN_NOT_PLUGGED = 5


class RemoteStopFailure(IntEnum):
    """0x35 remote-stop failure reason (§4.11)."""

    NONE = 0
    PILE_MISMATCH = 1
    GUN_NOT_CHARGING = 2
    OTHER = 3


class TransactionSource(IntEnum):
    """0x3B transaction source (§4.12); 0x03 is undefined."""

    APP = 0x01
    CARD = 0x02
    OFFLINE_CARD = 0x04
    VIN = 0x05


class AckResult(IntEnum):
    """0x40 transaction-record ack (§4.12): 0x00 = received."""

    OK = 0
    ILLEGAL = 1


class BalanceUpdateResult(IntEnum):
    """0x41 balance-update reply (§4.17): 0x00 = OK."""

    OK = 0
    PILE_ERROR = 1
    CARD_ERROR = 2


class WorkState(IntEnum):
    """0x52 working parameter "enable" (§4.17): 0x00 = allowed to work."""

    ALLOWED = 0
    DISABLED = 1


class Execution(IntEnum):
    """When a 0x92 reboot / 0x94 upgrade is executed (§4.15, §4.16)."""

    IMMEDIATELY = 1
    WHEN_IDLE = 2


class UpgradeResult(IntEnum):
    """0x93 upgrade reply status (§4.16): 0x00 = success."""

    SUCCESS = 0
    PILE_ERROR = 1
    MODEL_MISMATCH = 2
    DOWNLOAD_TIMEOUT = 3


class LockState(IntEnum):
    """0x61 ground-lock state (§4.17)."""

    MOVING = 0x00
    RAISED = 0x55
    LOWERED = 0xFF


class LockAction(IntEnum):
    """0x62 ground-lock action (§4.17)."""

    RAISE = 0x55
    LOWER = 0xFF


class StopReason(IntEnum):
    """Stop reason of the 0x3B transaction record (§4.13, S1 appendix 13.1).

    0x40–0x49 finished, 0x4A–0x69 start failed, 0x6A–0x8F abnormal stop, 0x90 unknown.
    Reserved codes are not members; decoders keep them as plain ints.
    """

    APP_STOP = 0x40
    SOC_FULL = 0x41
    ENERGY_TARGET = 0x42
    AMOUNT_TARGET = 0x43
    TIME_TARGET = 0x44
    MANUAL_STOP = 0x45
    START_CONTROL_FAULT = 0x4A
    START_PILOT_DISCONNECTED = 0x4B
    START_BREAKER_TRIPPED = 0x4C
    START_METER_COMM_LOST = 0x4D
    START_INSUFFICIENT_BALANCE = 0x4E
    START_MODULE_FAULT = 0x4F
    START_EMERGENCY_STOP = 0x50
    START_SURGE_PROTECTOR = 0x51
    START_BMS_NOT_READY = 0x52
    START_TEMPERATURE = 0x53
    START_BATTERY_REVERSED = 0x54
    START_LOCK_FAULT = 0x55
    START_CONTACTOR_FAILED = 0x56
    START_INSULATION = 0x57
    START_BHM_TIMEOUT = 0x59
    START_BRM_TIMEOUT = 0x5A
    START_BCP_TIMEOUT = 0x5B
    START_BRO_TIMEOUT = 0x5C
    START_BCS_TIMEOUT = 0x5D
    START_BCL_TIMEOUT = 0x5E
    START_BSM_TIMEOUT = 0x5F
    START_VOLTAGE_AT_BHM = 0x60
    START_BRO_VOLTAGE_MISMATCH = 0x61
    START_BRO_REVOKED = 0x62
    START_HOST_CONFIG_TIMEOUT = 0x63
    START_CHARGER_NOT_READY = 0x64
    ABORT_SYSTEM_LOCKED = 0x6A
    ABORT_PILOT_DISCONNECTED = 0x6B
    ABORT_BREAKER_TRIPPED = 0x6C
    ABORT_METER_COMM_LOST = 0x6D
    ABORT_INSUFFICIENT_BALANCE = 0x6E
    ABORT_AC_PROTECTION = 0x6F
    ABORT_DC_PROTECTION = 0x70
    ABORT_MODULE_FAULT = 0x71
    ABORT_EMERGENCY_STOP = 0x72
    ABORT_SURGE_PROTECTOR = 0x73
    ABORT_TEMPERATURE = 0x74
    ABORT_OUTPUT_ABNORMAL = 0x75
    ABORT_NO_CURRENT = 0x76
    ABORT_LOCK_FAULT = 0x77
    ABORT_TOTAL_VOLTAGE = 0x79
    ABORT_TOTAL_CURRENT = 0x7A
    ABORT_CELL_VOLTAGE = 0x7B
    ABORT_PACK_OVER_TEMP = 0x7C
    ABORT_MAX_CELL_VOLTAGE = 0x7D
    ABORT_MAX_PACK_OVER_TEMP = 0x7E
    ABORT_BMV_CELL_VOLTAGE = 0x7F
    ABORT_BMT_OVER_TEMP = 0x80
    ABORT_BATTERY_STATUS = 0x81
    ABORT_VEHICLE_FORBIDS = 0x82
    ABORT_POWER_LOSS = 0x83
    ABORT_BCS_TIMEOUT = 0x84
    ABORT_BCL_TIMEOUT = 0x85
    ABORT_BSM_TIMEOUT = 0x86
    ABORT_BST_TIMEOUT = 0x87
    ABORT_BSD_TIMEOUT = 0x88
    ABORT_CCS_TIMEOUT = 0x89
    UNKNOWN = 0x90


def stop_category(code: int) -> str:
    """The §4.13 category of a stop reason: finished, start_failed, abnormal or unknown."""
    if 0x40 <= code <= 0x49:
        return "finished"
    if 0x4A <= code <= 0x69:
        return "start_failed"
    if 0x6A <= code <= 0x8F:
        return "abnormal"
    return "unknown"
