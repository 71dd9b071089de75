"""The exit codes of every ``simrig`` command, defined once (issue 11 item 5).

=====  ==========================  ====================================================
code   name                        meaning
=====  ==========================  ====================================================
0      PASS                        every expectation met
1      EXPECTATIONS_FAILED         the run completed, an expectation failed (a finding)
2      BAD_INPUT                   bad scenario, option, backend URL or file (an --out
                                   that is a file: before the run)
3      BACKEND_UNAVAILABLE         the backend was unreachable or incompatible (no pile
                                   ever logged in): sessions were not judged
4      INTERRUPTED                 Ctrl-C or SIGTERM
=====  ==========================  ====================================================

A CI can tell "our backend bills wrongly" (1) from "the rig could not test it" (3).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    PASS = 0
    EXPECTATIONS_FAILED = 1
    BAD_INPUT = 2
    BACKEND_UNAVAILABLE = 3
    INTERRUPTED = 4
