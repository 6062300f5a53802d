# Each target does its own set-up on a fresh machine: venv, Docker engine, base images.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: test demo setup engine images venv unit bench clean

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/harness graph tests/topologies/example.yaml --format text
	$(VENV)/bin/harness up tests/topologies/example.yaml --detach
	$(VENV)/bin/harness down tests/topologies/example.yaml

unit: venv
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

bench: setup
	$(PY) bench/startup.py

setup: venv engine images

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

engine:
	bash fixtures/images/ensure-engine.sh

images: engine
	bash fixtures/images/ensure-base-images.sh

clean:
	-$(VENV)/bin/harness down
	rm -rf $(VENV) reports
