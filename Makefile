# Everything a newcomer needs: `make run` serves Pilar on the embedded store, `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test setup postgres clean demo image-check bench reliability projection-cost long-case translations screenshots online-rebuild import-bench

# setuptools' notice on every editable install of a flat layout, which says nothing to act on.
QUIET_SETUPTOOLS := ignore:Editable installation

$(BIN)/pilar: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	PYTHONWARNINGS="$(QUIET_SETUPTOOLS)" $(BIN)/pip install -q -e ".[test]"
	touch $@

setup: $(BIN)/pilar

# A person reads `make run`'s terminal: plain lines there (JSON lines, the default, everywhere else),
# gunicorn's start-up lines only for a warning, and last what to do next (pilar/gunicorn_conf.py, when_ready).
# The store and keys go to ./instance, said explicitly: an installed Pilar's default is /var/lib/pilar.
run: export PILAR_LOG_FORMAT ?= text
run: export PILAR_INSTANCE_PATH ?= $(CURDIR)/instance
run: $(BIN)/pilar
	@$(BIN)/pilar db init
	@note="$$($(BIN)/pilar users ensure-admin)" && printf '%s\n' "$$note" | \
		PILAR_RUN_BANNER=1 $(BIN)/gunicorn -c python:pilar.gunicorn_conf --log-level warning pilar.wsgi:app

demo: export PILAR_INSTANCE_PATH ?= $(CURDIR)/instance
demo: $(BIN)/pilar
	$(BIN)/pilar db init
	$(BIN)/pilar demo

postgres:
	bash .ci/ensure-postgres

# The reliability suite's own dependencies (schemathesis), on top of the test ones.
$(VENV)/.reliability-deps: $(BIN)/pilar pyproject.toml
	PYTHONWARNINGS="$(QUIET_SETUPTOOLS)" $(BIN)/pip install -q -e ".[test,reliability]"
	touch $@

# The pages' browser tests drive Debian's chromium (Playwright with executable_path, never a
# downloaded browser); installed only when missing.
/usr/bin/chromium:
	apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

# tests/ in TEST_WORKERS processes, each taking a whole module at a time (module-scoped servers and
# stores stay in one process); then the reliability suite alone, as it restarts PostgreSQL. Both
# always run; the target fails if either did.
TEST_WORKERS ?= 2
test: $(BIN)/pilar $(VENV)/.reliability-deps postgres /usr/bin/chromium /usr/bin/wrk
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile tests; tests=$$?; \
		$(BIN)/pytest reliability; reliability=$$?; exit $$(( tests || reliability ))

# The pages' messages: extract them, merge new ones into the Indonesian catalogue (translate the
# empty msgstr lines it gains), compile it. tests/test_translations.py fails until both agree.
translations: $(BIN)/pilar
	$(BIN)/pybabel extract -F pilar/web/babel.cfg -k _l --no-location --omit-header -o pilar/web/translations/messages.pot pilar
	$(BIN)/pybabel update -i pilar/web/translations/messages.pot -d pilar/web/translations -l id --no-fuzzy-matching \
		--ignore-obsolete -w 100
	$(BIN)/pybabel compile -d pilar/web/translations -l id
	rm pilar/web/translations/messages.pot

# Screenshots of the main pages at 360 px and desktop width, for README (docs/screenshots/).
screenshots: $(BIN)/pilar /usr/bin/chromium
	PILAR_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/test_browser*.py -p no:randomly -q

# deploy/Dockerfile built and run for real with podman, alone and as deploy/compose.yaml's stack
# (deploy/README.md, "Checking the image"); as root. tests/test_image.py runs the same script.
image-check: $(BIN)/pilar
	PODMAN_COMPOSE=$(BIN)/podman-compose bash deploy/check-image.sh

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis *.egg-info

# Load comes from Debian's wrk (a compiled generator, so the client is not the bottleneck);
# installed only when missing.
/usr/bin/wrk:
	apt-get install -y wrk || (apt-get update && apt-get install -y wrk)

bench: $(BIN)/pilar postgres /usr/bin/wrk
	$(BIN)/pip install -q -e ".[test,bench]"
	$(BIN)/python -m bench.run

# What projecting one event costs at a small and a large store, and how long it holds the
# write transaction: the profile behind the store-size target (docs/performance.md).
projection-cost: $(BIN)/pilar postgres
	$(BIN)/python -m bench.projection_cost

# What a 5,000-event case costs to write and read against a short one (docs/performance.md).
long-case: $(BIN)/pilar postgres
	$(BIN)/python -m bench.long_case

# What writers and readers wait while `projections rebuild` and `check` run on a large store
# (docs/performance.md). ONLINE_REBUILD_EVENTS sets the store's size.
ONLINE_REBUILD_EVENTS ?= 1000000
online-rebuild: $(BIN)/pilar postgres
	$(BIN)/python -m bench.online_rebuild --events $(ONLINE_REBUILD_EVENTS) --store both

# How fast `pilar import` brings 50,000 rows in on SQLite (BENCH_IMPORT_STORE=postgres: PostgreSQL), its
# CPU and commits a row, its peak memory, and what a concurrent API writer waits (docs/performance.md).
import-bench: $(BIN)/pilar
	$(BIN)/python -m bench.import_bench

# The full reliability suite (racing writers, faults under load, hostile input) on SQLite and
# PostgreSQL; writes its figures to docs/reliability.md. `make test` runs it in a short form.
RELIABILITY_SECONDS ?= 20
RELIABILITY_CLIENTS ?= 8
RELIABILITY_EXAMPLES ?= 3
RELIABILITY_FUZZ_EXAMPLES ?= 150
reliability: $(VENV)/.reliability-deps postgres
	RELIABILITY_SECONDS=$(RELIABILITY_SECONDS) RELIABILITY_CLIENTS=$(RELIABILITY_CLIENTS) \
	RELIABILITY_EXAMPLES=$(RELIABILITY_EXAMPLES) RELIABILITY_FUZZ_EXAMPLES=$(RELIABILITY_FUZZ_EXAMPLES) \
	RELIABILITY_REPORT=docs/reliability.md $(BIN)/pytest reliability -p no:cacheprovider
