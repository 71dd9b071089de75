"""Every YKC v1.5/v1.6 frame body as a frozen dataclass (protocol-ykc §2, §4, §5).

Fields are in real units: kWh, yuan, V, A, °C, minutes, ``datetime`` (pile-local time),
digit strings for BCD numbers (``pile_no`` is 14 digits, ``serial`` 32) and upper-case hex
for opaque byte ids (physical card). Odd type codes travel pile → platform, even ones
platform → pile. Each class cites its section of the protocol notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from simrig.fastdata import fast_init

from .codec import BodyCodec
from .enums import (
    AckResult,
    AuthFailure,
    BalanceUpdateResult,
    Carrier,
    Confirm,
    Execution,
    GunHealth,
    GunStatus,
    LockAction,
    LockState,
    LoginResult,
    ModelCheck,
    NetworkType,
    PileType,
    RemoteStartFailure,
    RemoteStopFailure,
    StartMode,
    StopReason,
    TransactionSource,
    TriState,
    UpgradePileModel,
    UpgradeResult,
    WorkState,
)
from .wire import (
    Ascii,
    Bcd,
    BcdByte,
    BmsCurrent,
    Bytes,
    ByteTable,
    Cp56Time,
    Enum8,
    Flag,
    PascalAscii,
    Repeated,
    Scaled,
    Temperature,
    UInt,
    UIntN,
    wire,
)

PILE = Bcd(7)
GUN = BcdByte()
SERIAL = Bcd(16)
CARD = Bytes(8)
LOGICAL_CARD = Bcd(8)
ENERGY = Scaled(4, 10_000, unit="kWh")
MONEY = Scaled(4, 10_000, unit="yuan")
RATE = Scaled(4, 100_000, unit="yuan/kWh")
BALANCE = Scaled(4, 100, unit="yuan")
VOLTS = Scaled(2, 10, unit="V")
METER = UIntN(5, 10_000, unit="kWh")


class Message:
    """Base of all frame bodies; subclasses are registered with :func:`frame`."""

    __slots__ = ()
    TYPE: ClassVar[int]
    NAME: ClassVar[str]
    SECTION: ClassVar[str]
    codec: ClassVar[BodyCodec]

    def encode_body(self) -> bytes:
        return self.codec.encode(self)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name, _ in self.codec.fields}


#: frame type code → message class
MESSAGES: dict[int, type[Message]] = {}
#: frame name (``login_reply``) → message class
BY_NAME: dict[str, type[Message]] = {}

M = TypeVar("M", bound=type[Message])


def frame(code: int, name: str, section: str) -> Any:
    """Register a message dataclass under its frame type code."""

    def register(cls: M) -> M:
        fast_init(cls)
        cls.TYPE, cls.NAME, cls.SECTION = code, name, section
        cls.codec = BodyCodec(cls)
        MESSAGES[code] = cls
        BY_NAME[name] = cls
        return cls

    return register


# --- login, heartbeat, billing model (§4.1–§4.4, §5) -------------------------------------


@frame(0x01, "login", "§4.1")
@dataclass(frozen=True, slots=True)
class Login(Message):
    """Pile login; must succeed before anything else (§3 item 1)."""

    pile_no: str = wire(PILE)
    pile_type: PileType = wire(Enum8(PileType))
    gun_count: int = wire(UInt(1), 1)
    protocol_version: float = wire(Scaled(1, 10), 1.6)
    firmware_version: str = wire(Ascii(8))
    network_type: NetworkType = wire(Enum8(NetworkType, NetworkType.LAN))
    sim: str = wire(Bcd(10))
    carrier: Carrier = wire(Enum8(Carrier, Carrier.OTHER))


@frame(0x02, "login_reply", "§4.2")
@dataclass(frozen=True, slots=True)
class LoginReply(Message):
    """Login result; on failure the platform closes the connection."""

    pile_no: str = wire(PILE)
    result: LoginResult = wire(Enum8(LoginResult))


@frame(0x03, "heartbeat", "§4.3")
@dataclass(frozen=True, slots=True)
class Heartbeat(Message):
    """Heartbeat, every 10 s; three missed replies mean the link is down (§3 item 2)."""

    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    gun_state: GunHealth = wire(Enum8(GunHealth))


@frame(0x04, "heartbeat_reply", "§4.3")
@dataclass(frozen=True, slots=True)
class HeartbeatReply(Message):
    """Heartbeat reply; the reply byte is always 0x00."""

    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    reply: int = wire(UInt(1))


@frame(0x05, "model_verify", "§4.4")
@dataclass(frozen=True, slots=True)
class ModelVerify(Message):
    """Billing-model verify; model number all zero on the first connection."""

    pile_no: str = wire(PILE)
    model_no: str = wire(Bcd(2))


@frame(0x06, "model_verify_reply", "§4.4")
@dataclass(frozen=True, slots=True)
class ModelVerifyReply(Message):
    """0x00 = the pile's model matches; 0x01 = differs (the pile then sends 0x09)."""

    pile_no: str = wire(PILE)
    model_no: str = wire(Bcd(2))
    result: ModelCheck = wire(Enum8(ModelCheck))


@frame(0x09, "model_request", "§4.4")
@dataclass(frozen=True, slots=True)
class ModelRequest(Message):
    """Billing-model request; without a model the pile must not charge."""

    pile_no: str = wire(PILE)


@frame(0x0A, "model_reply", "§5")
@dataclass(frozen=True, slots=True)
class ModelReply(Message):
    """Full TOU billing model: 4 bands × (electricity, service) yuan/kWh, loss ratio, 48 slots.

    ``periods[k]`` covers [k×30 min, (k+1)×30 min): 0 sharp, 1 peak, 2 flat, 3 valley.
    """

    pile_no: str = wire(PILE)
    model_no: str = wire(Bcd(2))
    sharp_rate: float = wire(RATE)
    sharp_service: float = wire(RATE)
    peak_rate: float = wire(RATE)
    peak_service: float = wire(RATE)
    flat_rate: float = wire(RATE)
    flat_service: float = wire(RATE)
    valley_rate: float = wire(RATE)
    valley_service: float = wire(RATE)
    loss_ratio: int = wire(UInt(1))
    periods: tuple[int, ...] = wire(ByteTable(48))


@frame(0x58, "set_model", "§5")
@dataclass(frozen=True, slots=True)
class SetModel(ModelReply):
    """Billing-model push; same body as 0x0A, answered by 0x57."""


@frame(0x57, "set_model_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class SetModelReply(Message):
    pile_no: str = wire(PILE)
    result: Confirm = wire(Enum8(Confirm))


# --- realtime data (§4.5, §4.6) ----------------------------------------------------------


@frame(0x12, "read_realtime", "§4.5")
@dataclass(frozen=True, slots=True)
class ReadRealtime(Message):
    """Ask a gun for a 0x13 now."""

    pile_no: str = wire(PILE)
    gun: int = wire(GUN)


@frame(0x13, "realtime_data", "§4.6")
@dataclass(frozen=True, slots=True)
class RealtimeData(Message):
    """Realtime data: every 15 s charging, 5 min idle, at once on a status/plug change."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    status: GunStatus = wire(Enum8(GunStatus, GunStatus.IDLE))
    gun_returned: TriState = wire(Enum8(TriState))
    plugged: bool = wire(Flag())
    voltage: float = wire(VOLTS)
    current: float = wire(Scaled(2, 10, unit="A"))
    gun_temperature: float = wire(Temperature())
    cable_code: str = wire(Bytes(8))
    soc: int = wire(UInt(1, unit="%"))
    battery_max_temperature: float = wire(Temperature())
    charge_minutes: int = wire(UInt(2, unit="min"))
    remaining_minutes: int = wire(UInt(2, unit="min"))
    energy: float = wire(ENERGY)
    loss_energy: float = wire(ENERGY)
    amount: float = wire(MONEY)
    faults: int = wire(UInt(2))


# --- GB/T 27930 mirror frames (§4.18) ----------------------------------------------------


@frame(0x15, "handshake", "§4.18")
@dataclass(frozen=True, slots=True)
class Handshake(Message):
    """Charge handshake (BRM data)."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    bms_protocol: str = wire(Bytes(3))
    battery_type: int = wire(UInt(1), 3)
    rated_capacity_ah: float = wire(Scaled(2, 10, unit="Ah"))
    rated_voltage: float = wire(VOLTS)
    battery_maker: str = wire(Ascii(4))
    pack_serial: int = wire(UInt(4))
    production_year: int = wire(UInt(1))
    production_month: int = wire(UInt(1))
    production_day: int = wire(UInt(1))
    cycle_count: int = wire(UIntN(3))
    owned: int = wire(UInt(1))
    reserved: int = wire(UInt(1))
    vin: str = wire(Ascii(17))
    bms_software: str = wire(Bytes(8))


@frame(0x17, "parameter_config", "§4.18")
@dataclass(frozen=True, slots=True)
class ParameterConfig(Message):
    """Parameter configuration (BCP/CML data); there is no 0x18."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    max_cell_voltage: float = wire(Scaled(2, 100, unit="V"))
    max_charge_current: float = wire(BmsCurrent())
    nominal_energy: float = wire(Scaled(2, 10, unit="kWh"))
    max_total_voltage: float = wire(VOLTS)
    max_temperature: float = wire(Temperature())
    soc: float = wire(Scaled(2, 10, unit="%"))
    battery_voltage: float = wire(VOLTS)
    pile_max_voltage: float = wire(VOLTS)
    pile_min_voltage: float = wire(VOLTS)
    pile_max_current: float = wire(BmsCurrent())
    pile_min_current: float = wire(BmsCurrent())


@frame(0x19, "charge_end", "§4.18")
@dataclass(frozen=True, slots=True)
class ChargeEnd(Message):
    """End-of-charge statistics (BSD/CSD); comes before the 0x3B record (§3 item 7)."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    end_soc: int = wire(UInt(1, unit="%"))
    min_cell_voltage: float = wire(Scaled(2, 100, unit="V"))
    max_cell_voltage: float = wire(Scaled(2, 100, unit="V"))
    min_temperature: float = wire(Temperature())
    max_temperature: float = wire(Temperature())
    charge_minutes: int = wire(UInt(2, unit="min"))
    energy: float = wire(Scaled(2, 10, unit="kWh"))
    charger_no: int = wire(UInt(4))


@frame(0x1B, "error_report", "§4.18")
@dataclass(frozen=True, slots=True)
class ErrorReport(Message):
    """BEM/CEM timeout bits: 8 bytes of 2-bit fields, kept as hex."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    flags: str = wire(Bytes(8))


@frame(0x1D, "bms_stop", "§4.18")
@dataclass(frozen=True, slots=True)
class BmsStop(Message):
    """BMS stop (BST): reason, fault and error 2-bit flag sets."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    reason: int = wire(UInt(1))
    fault: int = wire(UInt(2))
    error: int = wire(UInt(1))


@frame(0x21, "charger_stop", "§4.18")
@dataclass(frozen=True, slots=True)
class ChargerStop(BmsStop):
    """Charger stop (CST); same layout as 0x1D. 0x1F is not defined."""


@frame(0x23, "demand_output", "§4.18")
@dataclass(frozen=True, slots=True)
class DemandOutput(Message):
    """BMS demand and charger output (BCL/BCS/CCS), every 15 s while charging."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    demand_voltage: float = wire(VOLTS)
    demand_current: float = wire(BmsCurrent())
    charge_mode: int = wire(UInt(1), 2)
    measured_voltage: float = wire(VOLTS)
    measured_current: float = wire(BmsCurrent())
    max_cell_voltage_group: int = wire(UInt(2))
    soc: int = wire(UInt(1, unit="%"))
    remaining_minutes: int = wire(UInt(2, unit="min"))
    output_voltage: float = wire(VOLTS)
    output_current: float = wire(BmsCurrent())
    charge_minutes: int = wire(UInt(2, unit="min"))


@frame(0x25, "bms_info", "§4.18")
@dataclass(frozen=True, slots=True)
class BmsInfo(Message):
    """BMS information (BSM), every 15 s while charging."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    max_cell_voltage_index: int = wire(UInt(1))
    max_temperature: float = wire(Temperature())
    max_temperature_probe: int = wire(UInt(1))
    min_temperature: float = wire(Temperature())
    min_temperature_probe: int = wire(UInt(1))
    flags: int = wire(UInt(2))


# --- start and stop (§4.7–§4.11) ----------------------------------------------------------


@frame(0x31, "card_start", "§4.7")
@dataclass(frozen=True, slots=True)
class CardStart(Message):
    """Pile-initiated start by card or VIN; the VIN is reversed on the wire."""

    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    start_mode: StartMode = wire(Enum8(StartMode))
    password_needed: bool = wire(Flag())
    card: str = wire(CARD)
    password_md5: str = wire(Bytes(16))
    vin: str = wire(Ascii(17, reversed_=True))


@frame(0x32, "card_auth_reply", "§4.8")
@dataclass(frozen=True, slots=True)
class CardAuthReply(Message):
    """Authorisation result of a card/VIN start, with the platform's transaction serial."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    logical_card: str = wire(LOGICAL_CARD)
    balance: float = wire(BALANCE)
    result: Confirm = wire(Enum8(Confirm))
    failure: AuthFailure = wire(Enum8(AuthFailure))


@frame(0x33, "remote_start_reply", "§4.10")
@dataclass(frozen=True, slots=True)
class RemoteStartReply(Message):
    """Reply to 0x34; a second success reply follows if the gun is plugged within 60 s."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    result: Confirm = wire(Enum8(Confirm))
    failure: RemoteStartFailure = wire(Enum8(RemoteStartFailure))


@frame(0x34, "remote_start", "§4.9")
@dataclass(frozen=True, slots=True)
class RemoteStart(Message):
    """Platform (app) start command, carrying the order's transaction serial."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    logical_card: str = wire(LOGICAL_CARD)
    physical_card: str = wire(CARD)
    balance: float = wire(BALANCE)


@frame(0x35, "remote_stop_reply", "§4.11")
@dataclass(frozen=True, slots=True)
class RemoteStopReply(Message):
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    result: Confirm = wire(Enum8(Confirm))
    failure: RemoteStopFailure = wire(Enum8(RemoteStopFailure))


@frame(0x36, "remote_stop", "§4.11")
@dataclass(frozen=True, slots=True)
class RemoteStop(Message):
    """Platform stop; the platform closes the order as soon as it sends this (§3 item 6)."""

    pile_no: str = wire(PILE)
    gun: int = wire(GUN)


# --- the bill (§4.12) ---------------------------------------------------------------------


@frame(0x3B, "transaction_record", "§4.12")
@dataclass(frozen=True, slots=True)
class TransactionRecord(Message):
    """The bill: 4 TOU bands × (unit price, energy, loss energy, amount), meter totals, etc.

    Unit price = electricity + service rate of the band. Sent within 30 s of the end of
    charging and retried until acknowledged by 0x40 (§3 items 7–8).
    """

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    start_time: datetime | None = wire(Cp56Time())
    end_time: datetime | None = wire(Cp56Time())
    sharp_price: float = wire(RATE)
    sharp_energy: float = wire(ENERGY)
    sharp_loss_energy: float = wire(ENERGY)
    sharp_amount: float = wire(MONEY)
    peak_price: float = wire(RATE)
    peak_energy: float = wire(ENERGY)
    peak_loss_energy: float = wire(ENERGY)
    peak_amount: float = wire(MONEY)
    flat_price: float = wire(RATE)
    flat_energy: float = wire(ENERGY)
    flat_loss_energy: float = wire(ENERGY)
    flat_amount: float = wire(MONEY)
    valley_price: float = wire(RATE)
    valley_energy: float = wire(ENERGY)
    valley_loss_energy: float = wire(ENERGY)
    valley_amount: float = wire(MONEY)
    meter_start: float = wire(METER)
    meter_end: float = wire(METER)
    total_energy: float = wire(ENERGY)
    total_loss_energy: float = wire(ENERGY)
    total_amount: float = wire(MONEY)
    vin: str = wire(Ascii(17))
    source: TransactionSource = wire(Enum8(TransactionSource))
    trade_time: datetime | None = wire(Cp56Time())
    stop_reason: StopReason = wire(Enum8(StopReason))
    physical_card: str = wire(CARD)


@frame(0x3D, "transaction_record_v17", "§4.12")
@dataclass(frozen=True, slots=True)
class TransactionRecordV17(Message):
    """YKC 1.7 bill: 0x3B plus meter-security fields after the end time; answered by 0x40."""

    serial: str = wire(SERIAL)
    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    start_time: datetime | None = wire(Cp56Time())
    end_time: datetime | None = wire(Cp56Time())
    meter_no: str = wire(Bcd(6))
    meter_cipher: str = wire(Bytes(34))
    meter_protocol: int = wire(UInt(2))
    encryption_method: int = wire(UInt(1))
    sharp_price: float = wire(RATE)
    sharp_energy: float = wire(ENERGY)
    sharp_loss_energy: float = wire(ENERGY)
    sharp_amount: float = wire(MONEY)
    peak_price: float = wire(RATE)
    peak_energy: float = wire(ENERGY)
    peak_loss_energy: float = wire(ENERGY)
    peak_amount: float = wire(MONEY)
    flat_price: float = wire(RATE)
    flat_energy: float = wire(ENERGY)
    flat_loss_energy: float = wire(ENERGY)
    flat_amount: float = wire(MONEY)
    valley_price: float = wire(RATE)
    valley_energy: float = wire(ENERGY)
    valley_loss_energy: float = wire(ENERGY)
    valley_amount: float = wire(MONEY)
    meter_start: float = wire(METER)
    meter_end: float = wire(METER)
    total_energy: float = wire(ENERGY)
    total_loss_energy: float = wire(ENERGY)
    total_amount: float = wire(MONEY)
    vin: str = wire(Ascii(17))
    source: TransactionSource = wire(Enum8(TransactionSource))
    trade_time: datetime | None = wire(Cp56Time())
    stop_reason: StopReason = wire(Enum8(StopReason))
    physical_card: str = wire(CARD)


@frame(0x40, "record_ack", "§4.12")
@dataclass(frozen=True, slots=True)
class RecordAck(Message):
    """Transaction-record ack: 0x00 received, 0x01 illegal bill. Only means "received"."""

    serial: str = wire(SERIAL)
    result: AckResult = wire(Enum8(AckResult))


# --- balance, offline cards (§4.17) -------------------------------------------------------


@frame(0x41, "balance_update_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class BalanceUpdateReply(Message):
    pile_no: str = wire(PILE)
    physical_card: str = wire(CARD)
    result: BalanceUpdateResult = wire(Enum8(BalanceUpdateResult))


@frame(0x42, "balance_update", "§4.17")
@dataclass(frozen=True, slots=True)
class BalanceUpdate(Message):
    """New balance for the card running a session (zero card = the current user)."""

    pile_no: str = wire(PILE)
    gun: int = wire(GUN)
    physical_card: str = wire(CARD)
    balance: float = wire(BALANCE)


@frame(0x43, "card_sync_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class CardSyncReply(Message):
    pile_no: str = wire(PILE)
    result: Confirm = wire(Enum8(Confirm))
    reason: int = wire(UInt(1))


@frame(0x44, "card_sync", "§4.17")
@dataclass(frozen=True, slots=True)
class CardSync(Message):
    """Offline-card sync: up to 15 (logical card, physical card) pairs."""

    pile_no: str = wire(PILE)
    cards: tuple[tuple[str, str], ...] = wire(
        Repeated((("logical", LOGICAL_CARD), ("physical", CARD)), prefix=True)
    )


@frame(0x45, "card_clear_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class CardClearReply(Message):
    """Per card: (physical card, cleared 0/1, reason)."""

    pile_no: str = wire(PILE)
    results: tuple[tuple[str, int, int], ...] = wire(
        Repeated((("physical", CARD), ("cleared", UInt(1)), ("reason", UInt(1))), prefix=False)
    )


@frame(0x46, "card_clear", "§4.17")
@dataclass(frozen=True, slots=True)
class CardClear(Message):
    """Offline-card clear: up to 24 physical cards."""

    pile_no: str = wire(PILE)
    cards: tuple[tuple[str], ...] = wire(Repeated((("physical", CARD),), prefix=True))


@frame(0x47, "card_query_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class CardQueryReply(Message):
    """Per card: (physical card, present 0/1)."""

    pile_no: str = wire(PILE)
    results: tuple[tuple[str, int], ...] = wire(
        Repeated((("physical", CARD), ("present", UInt(1))), prefix=False)
    )


@frame(0x48, "card_query", "§4.17")
@dataclass(frozen=True, slots=True)
class CardQuery(Message):
    """Offline-card query: up to 26 physical cards."""

    pile_no: str = wire(PILE)
    cards: tuple[tuple[str], ...] = wire(Repeated((("physical", CARD),), prefix=True))


# --- configuration and maintenance (§4.14–§4.17) ------------------------------------------


@frame(0x51, "work_params_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class WorkParamsReply(Message):
    pile_no: str = wire(PILE)
    result: Confirm = wire(Enum8(Confirm))


@frame(0x52, "work_params", "§4.17")
@dataclass(frozen=True, slots=True)
class WorkParams(Message):
    """Working parameters: enable (0x00 allowed!) and max output power in % (30–100)."""

    pile_no: str = wire(PILE)
    enable: WorkState = wire(Enum8(WorkState))
    max_power_pct: int = wire(UInt(1, unit="%"), 100)


@frame(0x55, "time_sync_reply", "§4.14")
@dataclass(frozen=True, slots=True)
class TimeSyncReply(Message):
    pile_no: str = wire(PILE)
    time: datetime | None = wire(Cp56Time())


@frame(0x56, "time_sync", "§4.14")
@dataclass(frozen=True, slots=True)
class TimeSync(Message):
    """Time sync, daily and after login."""

    pile_no: str = wire(PILE)
    time: datetime | None = wire(Cp56Time())


@frame(0x61, "ground_lock_status", "§4.17")
@dataclass(frozen=True, slots=True)
class GroundLockStatus(Message):
    """Ground-lock state; here the gun is typed BIN, not BCD."""

    pile_no: str = wire(PILE)
    gun: int = wire(UInt(1), 1)
    lock_state: LockState = wire(Enum8(LockState))
    parking_occupied: int = wire(UInt(1))
    battery_pct: int = wire(UInt(1, unit="%"))
    alarm: int = wire(UInt(1))
    reserved: str = wire(Bytes(4))


@frame(0x62, "ground_lock_command", "§4.17")
@dataclass(frozen=True, slots=True)
class GroundLockCommand(Message):
    pile_no: str = wire(PILE)
    gun: int = wire(UInt(1), 1)
    action: LockAction = wire(Enum8(LockAction))
    reserved: str = wire(Bytes(4))


@frame(0x63, "ground_lock_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class GroundLockReply(Message):
    pile_no: str = wire(PILE)
    gun: int = wire(UInt(1), 1)
    result: Confirm = wire(Enum8(Confirm))
    reserved: str = wire(Bytes(4))


@frame(0x91, "reboot_reply", "§4.15")
@dataclass(frozen=True, slots=True)
class RebootReply(Message):
    pile_no: str = wire(PILE)
    result: Confirm = wire(Enum8(Confirm))


@frame(0x92, "reboot", "§4.15")
@dataclass(frozen=True, slots=True)
class Reboot(Message):
    pile_no: str = wire(PILE)
    execution: Execution = wire(Enum8(Execution))


@frame(0x93, "upgrade_reply", "§4.16")
@dataclass(frozen=True, slots=True)
class UpgradeReply(Message):
    """Upgrade status: 0x00 success (the opposite polarity of 0x91)."""

    pile_no: str = wire(PILE)
    status: UpgradeResult = wire(Enum8(UpgradeResult))


@frame(0x94, "upgrade", "§4.16")
@dataclass(frozen=True, slots=True)
class Upgrade(Message):
    """Remote upgrade by FTP download; pile model coded 1 DC / 2 AC here."""

    pile_no: str = wire(PILE)
    pile_model: UpgradePileModel = wire(Enum8(UpgradePileModel))
    pile_power: int = wire(UInt(2))
    server: str = wire(Ascii(16))
    port: int = wire(UInt(2), 21)
    user: str = wire(Ascii(16))
    password: str = wire(Ascii(16))
    path: str = wire(Ascii(32))
    execution: Execution = wire(Enum8(Execution))
    timeout_minutes: int = wire(UInt(1, unit="min"), 10)


# --- parallel (dual-gun) charging, V1.6 (§4.17) --------------------------------------------


@frame(0xA1, "parallel_card_start", "§4.17")
@dataclass(frozen=True, slots=True)
class ParallelCardStart(CardStart):
    """0x31 plus main/aux flag and the parallel-charge id (YYMMDDhhmmss)."""

    aux: int = wire(UInt(1))
    parallel_id: str = wire(Bcd(6))


@frame(0xA2, "parallel_auth_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class ParallelAuthReply(CardAuthReply):
    parallel_id: str = wire(Bcd(6))


@frame(0xA3, "parallel_remote_start_reply", "§4.17")
@dataclass(frozen=True, slots=True)
class ParallelRemoteStartReply(RemoteStartReply):
    """Uplink (S1's table prints the direction swapped, §8 item 10)."""

    aux: int = wire(UInt(1))
    parallel_id: str = wire(Bcd(6))


@frame(0xA4, "parallel_remote_start", "§4.17")
@dataclass(frozen=True, slots=True)
class ParallelRemoteStart(RemoteStart):
    parallel_id: str = wire(Bcd(6))


# --- QR prefix (OpenUC extension, not YKC 1.6) ---------------------------------------------


@frame(0xF0, "qr_prefix", "§2")
@dataclass(frozen=True, slots=True)
class QrPrefix(Message):
    """QR-code prefix push (OpenUC / e-iot extension); the prefix is length-prefixed."""

    pile_no: str = wire(PILE)
    qr_format: int = wire(UInt(1))
    prefix: str = wire(PascalAscii())


@frame(0xF1, "qr_prefix_reply", "§2")
@dataclass(frozen=True, slots=True)
class QrPrefixReply(Message):
    pile_no: str = wire(PILE)
    result: Confirm = wire(Enum8(Confirm))


#: frame types whose body length is fixed → body size
BODY_SIZES: dict[int, int] = {
    code: cls.codec.size for code, cls in MESSAGES.items() if cls.codec.size is not None
}

__all__ = [
    "BODY_SIZES",
    "BY_NAME",
    "MESSAGES",
    "BalanceUpdate",
    "BalanceUpdateReply",
    "BmsInfo",
    "BmsStop",
    "CardAuthReply",
    "CardClear",
    "CardClearReply",
    "CardQuery",
    "CardQueryReply",
    "CardStart",
    "CardSync",
    "CardSyncReply",
    "ChargeEnd",
    "ChargerStop",
    "DemandOutput",
    "ErrorReport",
    "GroundLockCommand",
    "GroundLockReply",
    "GroundLockStatus",
    "Handshake",
    "Heartbeat",
    "HeartbeatReply",
    "Login",
    "LoginReply",
    "Message",
    "ModelReply",
    "ModelRequest",
    "ModelVerify",
    "ModelVerifyReply",
    "ParallelAuthReply",
    "ParallelCardStart",
    "ParallelRemoteStart",
    "ParallelRemoteStartReply",
    "ParameterConfig",
    "QrPrefix",
    "QrPrefixReply",
    "ReadRealtime",
    "RealtimeData",
    "Reboot",
    "RebootReply",
    "RecordAck",
    "RemoteStart",
    "RemoteStartReply",
    "RemoteStop",
    "RemoteStopReply",
    "SetModel",
    "SetModelReply",
    "TimeSync",
    "TimeSyncReply",
    "TransactionRecord",
    "TransactionRecordV17",
    "Upgrade",
    "UpgradeReply",
    "WorkParams",
    "WorkParamsReply",
    "frame",
]
