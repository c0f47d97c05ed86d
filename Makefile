# enet-edge: every target creates .venv on first use (and again only when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TARGET ?= ncs2
OUT    ?= build/$(TARGET)
WEIGHTS ?=
DATA   ?=
MODEL  ?= build/$(TARGET)
PYTEST_ARGS ?=
TRAIN_ARGS ?=
EVAL_ARGS ?=
BENCH_ARGS ?=
DEMO_ARGS ?=

.PHONY: install test test-fast export bench bench-model demo train eval wheel docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[export,dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

export: $(STAMP)
	$(VENV)/bin/enet-edge export --target $(TARGET) --out $(OUT) $(if $(WEIGHTS),--weights $(WEIGHTS))

train: $(STAMP)
	$(VENV)/bin/enet-edge train $(if $(DATA),--data-dir $(DATA)) $(TRAIN_ARGS)

eval: $(STAMP)
	$(VENV)/bin/enet-edge eval $(MODEL) --split val $(if $(DATA),--data-dir $(DATA)) $(EVAL_ARGS)

# every runtime and precision, interleaved; writes benchmarks/results/ and the README table
bench: $(STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# one model (or --compare ...) with enet-edge bench
bench-model: $(STAMP)
	$(VENV)/bin/enet-edge bench $(MODEL) $(BENCH_ARGS)

demo: $(STAMP)
	$(PY) demo/camera_demo.py $(DEMO_ARGS)

# the wheel a device installs with `pip install --no-deps dist/enet_edge-*.whl` (built from the tracked files)
wheel: $(STAMP)
	rm -rf .whl && mkdir -p .whl/src dist
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C .whl/src
	$(PY) -m pip wheel -q --no-deps --no-build-isolation --disable-pip-version-check -w dist .whl/src
	rm -rf .whl
	@ls dist/enet_edge-*.whl

# render the generated blocks of README.md and docs/ from their sources (tests/test_docs.py checks them)
docs: $(STAMP)
	$(PY) tests/doc_facts.py --write

clean:
	rm -rf build dist .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
