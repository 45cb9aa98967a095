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

## weights: retrain the embedded default detector and matcher on a synthetic world (~1.5 h on 2 CPU cores)
WEIGHTS_WORLD := build/weights-world
WEIGHTS_WORK  := build/weights-stages
weights: install
	$(VENV)/bin/mf world generate --out $(WEIGHTS_WORLD) --products 100 --seed 2024
	@mkdir -p $(WEIGHTS_WORK)/a $(WEIGHTS_WORK)/b $(WEIGHTS_WORK)/c
	$(PY) -m annotations.weights_build --world $(WEIGHTS_WORLD) --out $(WEIGHTS_WORK)/a --skip-matcher \
	    --epochs 40 --imgsz 192 --frame-every 8 --lr0 0.002
	$(PY) -m annotations.weights_build --world $(WEIGHTS_WORLD) --out $(WEIGHTS_WORK)/b --skip-matcher \
	    --epochs 12 --imgsz 256 --frame-every 4 --lr0 0.001 --init-detector $(WEIGHTS_WORK)/a/detector.pt
	$(PY) -m annotations.weights_build --world $(WEIGHTS_WORLD) --out $(WEIGHTS_WORK)/c --skip-matcher \
	    --epochs 14 --imgsz 320 --frame-every 4 --lr0 0.0007 --init-detector $(WEIGHTS_WORK)/b/detector.pt
	$(VENV)/bin/mf world generate --out $(WEIGHTS_WORLD)2 --products 200 --seed 3033
	$(PY) -m annotations.weights_build --world $(WEIGHTS_WORLD)2 --out annotations/weights --skip-matcher \
	    --epochs 8 --imgsz 320 --frame-every 16 --lr0 0.0005 --init-detector $(WEIGHTS_WORK)/c/detector.pt
	$(PY) -m annotations.weights_build --world $(WEIGHTS_WORLD) --out $(WEIGHTS_WORK)/m --skip-detector \
	    --matcher-steps 2600
	$(PY) -m annotations.weights_build --world $(WEIGHTS_WORLD) --out annotations/weights --skip-detector \
	    --matcher-steps 2500 --matcher-lr 0.0005 --init-matcher $(WEIGHTS_WORK)/m/matcher.pt

clean-venv:
	rm -rf $(VENV)
