"""Load testing a YKC backend: many piles of the same firmware models, metrics streamed.

:mod:`~simrig.load.plan` (which piles, ramp, sessions, link faults),
:mod:`~simrig.load.metrics` (the driver's recorder: latency histograms, counters),
:mod:`~simrig.load.runner` (one process), :mod:`~simrig.load.workers` (``--workers K``),
:mod:`~simrig.load.report` (live view, ``load.json``, the plot, thresholds).
"""
