"""The repository suite runs against PostgreSQL too."""

from ..postgres_server import postgres_server  # noqa: F401 - a shared fixture
