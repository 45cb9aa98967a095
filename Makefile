# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PYTHONUNBUFFERED := 1

.PHONY: install demo test lint bench weights clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## install: create/update .venv (fast when pyproject.toml did not change)
install: $(STAMP)

## demo: the whole pipeline on the synthetic world served from loopback, then a report
demo: install
	$(VENV)/bin/mf demo --work demo-out

## test: the whole test suite
test: install
	$(PY) -m pytest

## lint: ruff
lint: install
	$(VENV)/bin/ruff check .

## bench: every benchmark in benchmarks/ (each prints a ratio against its baseline)
bench: install
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

## weights: retrain the embedded default detector and matcher on the synthetic world
weights: install
	$(VENV)/bin/mf world generate --out build/weights-world --products 60 --seed 0
	$(PY) -m annotations.weights_build --world build/weights-world

clean-venv:
	rm -rf $(VENV)
