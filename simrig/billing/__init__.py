"""Old home of the money domain and the oracle; these paths keep working.

The money domain now lives in :mod:`simrig.domain`, the oracle and its views in
:mod:`simrig.oracle`, the platform's own bill checks in :mod:`simrig.platform.checks`.
"""

from simrig.domain import *  # noqa: F403
from simrig.domain import __all__ as __all__
