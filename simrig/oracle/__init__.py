"""The oracle: truth, device view and platform view compared, anomaly codes assigned.

* :mod:`.views` -- the three views' records and the ``PlatformView`` plugin protocol;
* :mod:`.device_view` -- orders and bills rebuilt from the bytes on each link;
* :mod:`.repository_view` -- the reference platform's records as a ``PlatformView``;
* :mod:`.judge` -- the judgement per session (codes 1-11, false notifications, money).
"""

from simrig.oracle.judge import Oracle, OrderVerdict, SessionVerdict, fair_amount
from simrig.oracle.views import PlatformView, TruthRecord

__all__ = ["Oracle", "OrderVerdict", "PlatformView", "SessionVerdict", "TruthRecord", "fair_amount"]
