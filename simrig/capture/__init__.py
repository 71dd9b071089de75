"""Captures: the record of what crossed each link (readers and writers build on it)."""

from simrig.capture.record import Chunk

__all__ = ["Chunk"]
