# Everything a newcomer needs: `make run` serves Pilar on the embedded store, `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test setup postgres clean demo bench

$(BIN)/pilar: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $@

setup: $(BIN)/pilar

run: $(BIN)/pilar
	$(BIN)/pilar db init
	$(BIN)/pilar users ensure-admin
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

demo: $(BIN)/pilar
	$(BIN)/pilar db init
	$(BIN)/pilar demo

postgres:
	bash .ci/ensure-postgres

test: $(BIN)/pilar postgres
	$(BIN)/pytest

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis *.egg-info

bench: $(BIN)/pilar postgres
	$(BIN)/pip install -q -e ".[test,bench]"
	$(BIN)/python -m bench.run
