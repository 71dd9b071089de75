"""Captures: the record of what crossed each link, and its files.

:mod:`.record` (pure): :class:`Chunk` and :class:`LinkEvent`. The files, by suffix
(:mod:`.formats`: ``open_writer``, ``read_capture``, ``write_capture``, ``run_items``):
``.pcapng``/``.pcap`` (:mod:`.pcap`, TCP streams synthesized by :mod:`.tcp`, dpkt),
``.jsonl`` and ``.hex`` (:mod:`.textfiles`).
"""

from simrig.capture.record import Chunk, LinkEvent

__all__ = ["Chunk", "LinkEvent"]
