"""The pytest plugin: scenario files as tests, the library via --pyargs, JUnit XML.

Each run is a subprocess: in-process runs share (and partly re-import) simrig modules.
"""

from simrig.scenarios.loader import library_path

pytest_plugins = ["pytester"]


def test_scenario_files_are_collected_and_judged(pytester):
    text = library_path("zshy_case#23").read_text()
    pytester.makefile(".simrig.toml", good=text, bad=text.replace("codes = [1]", "codes = [4]"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    assert "zshy_case#23: 44030400030023:1:1: expected codes=[4]" in result.stdout.str()
    assert "got codes=[1]" in result.stdout.str()
    junit = (pytester.path / "junit.xml").read_text()
    assert 'tests="2"' in junit and 'failures="1"' in junit


def test_library_runs_as_a_test_module(pytester):
    result = pytester.runpytest_subprocess(
        "--pyargs", "simrig.testing", "-k", "basic or zpd_case_4", "-q"
    )
    result.assert_outcomes(passed=2)


def test_backend_option_reaches_the_fixture(pytester):
    pytester.makepyfile(
        "def test_backend(simrig_backend):\n    assert simrig_backend == 'tcp://127.0.0.1:1'\n"
    )
    result = pytester.runpytest_subprocess("--simrig-backend", "tcp://127.0.0.1:1")
    result.assert_outcomes(passed=1)
