"""A scripted pile for driving the platform core (sans-IO) or a real server (bytes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from simrig.platform import (
    DEMO_APP_ACCOUNT,
    MemoryRepository,
    PlatformCore,
    PlatformRules,
    load_demo_dataset,
)
from simrig.protocol.ykc import (
    CardStart,
    Confirm,
    Frame,
    Framer,
    GunStatus,
    Heartbeat,
    Login,
    Message,
    PileType,
    RealtimeData,
    RemoteStartFailure,
    RemoteStartReply,
    StartMode,
    StopReason,
    TransactionRecord,
    TransactionSource,
    encode_frame,
)

PILE = "32010200000001"
CARD = "00000000D14B0A54"
EPOCH = datetime(2019, 10, 29, 8, 0, 0)


class ScriptedPile:
    """Encodes uplink frames with an increasing seq and decodes the platform's replies."""

    def __init__(self, pile_no: str = PILE) -> None:
        self.pile_no = pile_no
        self.seq = 0
        self.framer = Framer(tolerant=True)

    def frame(self, message: Message) -> bytes:
        self.seq += 1
        return encode_frame(message, self.seq)

    def decode(self, data: bytes) -> list[Message]:
        return [f.message for f in self.framer.feed(data) if isinstance(f, Frame)]

    def login(self) -> bytes:
        return self.frame(
            Login(
                pile_no=self.pile_no, pile_type=PileType.DC, gun_count=2, firmware_version="2090104"
            )
        )

    def heartbeat(self, gun: int = 1) -> bytes:
        return self.frame(Heartbeat(pile_no=self.pile_no, gun=gun))

    def card_start(self, gun: int = 1, card: str = CARD) -> bytes:
        return self.frame(
            CardStart(pile_no=self.pile_no, gun=gun, start_mode=StartMode.CARD, card=card)
        )

    def start_reply(
        self, serial: str, gun: int = 1, failure: RemoteStartFailure = RemoteStartFailure.NONE
    ) -> bytes:
        """The reply to 0x34: a success, or a failure with ``failure`` as its reason."""
        result = Confirm.OK if failure is RemoteStartFailure.NONE else Confirm.FAILED
        return self.frame(
            RemoteStartReply(
                serial=serial, pile_no=self.pile_no, gun=gun, result=result, failure=failure
            )
        )

    def realtime(
        self,
        serial: str,
        gun: int = 1,
        status: GunStatus = GunStatus.CHARGING,
        plugged: bool = True,
        energy: float = 0.0,
        amount: float = 0.0,
        minutes: int = 0,
    ) -> bytes:
        return self.frame(
            RealtimeData(
                serial=serial,
                pile_no=self.pile_no,
                gun=gun,
                status=status,
                plugged=plugged,
                energy=energy,
                loss_energy=energy,
                amount=amount,
                charge_minutes=minutes,
            )
        )

    def bill(
        self,
        serial: str,
        start: datetime,
        end: datetime,
        energy: float,
        gun: int = 1,
        trade: datetime | None = None,
        price: float = 1.5,
        source: TransactionSource = TransactionSource.CARD,
        stop: StopReason = StopReason.MANUAL_STOP,
    ) -> bytes:
        amount = round(energy * price, 4)
        return self.frame(
            TransactionRecord(
                serial=serial,
                pile_no=self.pile_no,
                gun=gun,
                start_time=start,
                end_time=end,
                flat_price=price,
                flat_energy=energy,
                flat_loss_energy=energy,
                flat_amount=amount,
                meter_start=1000.0,
                meter_end=1000.0 + energy,
                total_energy=energy,
                total_loss_energy=energy,
                total_amount=amount,
                source=source,
                trade_time=trade or end,
                stop_reason=stop,
                physical_card=CARD,
            )
        )


class PlatformRig:
    """A platform core with the demo dataset and one logged-in scripted pile."""

    def __init__(self, rules: PlatformRules | None = None, pile_no: str = PILE) -> None:
        self.repo = MemoryRepository()
        load_demo_dataset(self.repo)
        self.core = PlatformCore(self.repo, rules=rules or PlatformRules(), epoch=EPOCH)
        self.pile = ScriptedPile(pile_no)
        self.cid = 1
        self.core.connection_made(self.cid, 0.0, "test")

    def send(self, data: bytes, now: float) -> list[Message]:
        self.core.receive_data(self.cid, data, now)
        return self.pile.decode(self.core.data_to_send(self.cid))

    def pump(self, now: float) -> list[Message]:
        """Fire timers due at ``now`` and return what the core sent."""
        self.core.handle_timer(now)
        return self.pile.decode(self.core.data_to_send(self.cid))

    def wall(self, now: float) -> datetime:
        return EPOCH + timedelta(seconds=now)

    def notes(self, kind: str) -> list:
        return [n for n in self.repo.list_notifications() if n.kind == kind]

    def card_session(self, now: float = 10.0, gun: int = 1) -> str:
        self.send(self.pile.login(), 0.0)
        (reply,) = self.send(self.pile.card_start(gun), now)
        assert reply.result == 1, reply
        return reply.serial

    def app_session(self, now: float = 10.0, gun: int = 1, **targets: Any) -> str:
        """Log in and start an app order (0x34 sent, not yet read); its serial."""
        self.send(self.pile.login(), 0.0)
        return self.core.app_start(self.pile.pile_no, gun, DEMO_APP_ACCOUNT, now, **targets)
