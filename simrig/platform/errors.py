"""The platform's one error type."""

__all__ = ["PlatformError"]


class PlatformError(Exception):
    """A request the platform refuses (app start/stop, command); the message is one line."""
