"""Errors the runner reports as one line."""

from __future__ import annotations


class BackendError(RuntimeError):
    """The backend could not be reached or started (one-line message)."""
