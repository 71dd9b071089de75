"""Running a scenario: the world it builds, the runner, expectations and results.

* :mod:`.world` -- plant, pile firmware, links and actions built from a scenario;
* :mod:`.runner` -- run on a backend (virtual or real time) and judge every session;
* :mod:`.expectations` -- ``[[expect]]`` and ``[[expect_rate]]`` checks;
* :mod:`.results` -- what a run leaves for reports.
"""
