"""The YKC v1.5/v1.6 pile ↔ platform protocol (protocol-ykc), pure: no I/O, no clock.

``encode_frame(message, seq)`` → bytes; ``Framer().feed(bytes)`` → frames and errors;
``decode_frame(bytes)`` for exactly one frame. Messages live in :mod:`.messages`.
"""

from . import enums as _enums
from . import messages as _messages
from .crc import crc16_modbus
from .enums import *  # noqa: F403
from .framer import (
    MAX_FRAME,
    DecodeError,
    ErrorKind,
    Frame,
    FramedBytes,
    FrameError,
    Framer,
    decode_frame,
    encode_frame,
)
from .messages import *  # noqa: F403
from .messages import BODY_SIZES, BY_NAME, MESSAGES, Message
from .wire import Deviation, FieldError, cp56_decode, cp56_encode

__all__ = [
    "BODY_SIZES",
    "BY_NAME",
    "MAX_FRAME",
    "MESSAGES",
    "DecodeError",
    "Deviation",
    "ErrorKind",
    "FieldError",
    "Frame",
    "FrameError",
    "FramedBytes",
    "Framer",
    "Message",
    "cp56_decode",
    "cp56_encode",
    "crc16_modbus",
    "decode_frame",
    "encode_frame",
]
__all__ += _messages.__all__ + _enums.__all__
