# simrig — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup faketime tshark postgresql chromium demo test lint bench captures dissector docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,locust,dask]'
	touch $(STAMP)

setup: $(STAMP) faketime tshark postgresql chromium

# libfaketime scales the clock of a backend that has no speed option (tests/adapters/test_faketime.py)
faketime:
	@command -v faketime >/dev/null 2>&1 || apt-get install -y faketime || \
		(apt-get update && apt-get install -y faketime)

# tshark checks the pcapng captures (tests/capture/) and the Wireshark dissector (Lua 5.2
# on Debian 12); Lua 5.4 runs the dissector through a stand-in of the Lua API (tests/wireshark/)
# curl: the README's HTTP API example (tests/cli/test_readme_examples.py runs every example)
tshark:
	@(command -v tshark && command -v lua5.4 && command -v curl) >/dev/null 2>&1 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y tshark lua5.4 curl || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y tshark lua5.4 curl)

# headless Debian chromium opens the HTML report in a test (tests/report/test_html_browser.py)
chromium:
	@command -v chromium >/dev/null 2>&1 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# a real PostgreSQL server for the PostgreSQL store's tests (tests/postgres_server.py starts
# it from Debian's versioned folder, as the postgres user when root; no systemd)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)

demo: $(STAMP)
	$(BIN)/simrig demo --out out/demo

lint: $(STAMP)
	$(BIN)/ruff check simrig tests benchmarks tools
	$(BIN)/ruff format --check simrig tests benchmarks tools
	$(BIN)/mypy

# three pytest-xdist workers on two cores: most end-to-end tests wait on real time
# (servers at 100-600x), so a third worker fills the idle; a test file is one unit of
# work (the parity file, first in the queue, on one worker that waits on its runs)
TEST_WORKERS ?= 3
test: lint faketime tshark postgresql chromium
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 -rfER  # R: name each rerun

bench: $(STAMP)
	$(BIN)/pytest benchmarks --benchmark-enable --benchmark-columns=median,ops,rounds

captures: $(STAMP)
	$(BIN)/python tools/make_captures.py

# regenerate the shipped Wireshark dissector from the message declarations
dissector: $(STAMP)
	$(BIN)/python -m simrig.wireshark.generate

# regenerate docs/scenario-format.md and docs/scenario.schema.json from the scenario schema
docs: $(STAMP)
	$(BIN)/python -m simrig.report.scenario_format

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis out
