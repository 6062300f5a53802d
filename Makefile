# Each target does its own set-up on a fresh machine: venv, Docker engine, base images.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: test demo setup engine images report-tools venv unit lint typecheck docs test-floor test-podman test-multi-engine bench bench-overhead bench-pipeline bench-engines clean

RUNNERLY := scenarios/runnerly/topology.yaml

# The harness's own tests and the Runnerly services' unit tests, then the Runnerly scenarios in its topology.
# The tests mostly wait on Docker: two pytest-xdist workers (--dist loadfile: a file's tests, and so its module-scoped
# topologies, in one worker) take about half the time of one. Then, alone, the tests marked engine_wide (they need the
# engine, or the machine, to themselves; each says why). Both calls run; each writes its JUnit file; pytest's exit
# code 5 (PYTEST_ARGS selected none of that call's tests) is no failure. PYTEST_ARGS comes last: `-n 0` runs all in one
# process.
HARNESS_TESTS := tests fixtures --ignore=tests/integration/engines
test: setup
	mkdir -p reports
	status=0; \
	$(VENV)/bin/pytest $(HARNESS_TESTS) -m "not engine_wide" -n 2 --dist loadfile --junitxml=reports/junit.xml \
		$(PYTEST_ARGS) || [ $$? -eq 5 ] || status=1; \
	$(VENV)/bin/pytest $(HARNESS_TESTS) -m engine_wide --junitxml=reports/junit-engine-wide.xml \
		$(PYTEST_ARGS) || [ $$? -eq 5 ] || status=1; \
	exit $$status
	$(VENV)/bin/pytest scenarios --topology $(RUNNERLY) --pact-verify --pact-drift --fuzz \
		--junitxml=reports/junit-scenarios.xml \
		$(PYTEST_ARGS)

# Runnerly: its graph; the topology built and started (URLs printed); its scenarios, every pact verified against it
# (the contract matrix printed) and a short fuzz run of every service; all torn down. The run's report page:
# reports/runnerly.html (its path is printed at the end).
demo: setup
	$(VENV)/bin/harness graph --topology $(RUNNERLY)
	$(VENV)/bin/pytest scenarios --topology $(RUNNERLY) --pact-verify --pact-drift --fuzz --fuzz-max-examples 10 -v \
		--topology-report reports/runnerly.html

unit: venv
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check harness tests bench scenarios fixtures docs/hooks

# The docs site into site/ (mkdocs.yml): offline, any warning fails it; the reference pages are rendered from the code
# (docs/hooks/reference.py). Open site/index.html.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# mypy strict on harness/ (pyproject.toml: [tool.mypy])
typecheck: venv
	$(VENV)/bin/mypy

# The lowest versions the dependency pins allow, the extras' included (testcontainers, pact-python, schemathesis,
# pytest, pydantic, ...):
# the unit tests, topologies started through the Python API, the pytest plugin and the CLI, and one fuzz run.
FLOOR := .venv-floor
test-floor: setup $(FLOOR)/.installed
	$(FLOOR)/bin/pytest -p no:cacheprovider tests/unit tests/integration/test_python_api.py \
		tests/integration/runtime/test_topology.py \
		tests/integration/runtime/test_remote_engine.py::test_a_copy_works_on_the_local_engine_too \
		tests/integration/fuzz/test_fuzz.py::test_the_three_planted_bugs_are_found_with_the_default_settings \
		-k "not attach" $(PYTEST_ARGS)

$(FLOOR)/.installed: pyproject.toml .ci/floor-constraints.py
	test -x $(FLOOR)/bin/python || python3 -m venv $(FLOOR)
	python3 .ci/floor-constraints.py > $(FLOOR)/constraints.txt
	$(FLOOR)/bin/python -m pip install -q -c $(FLOOR)/constraints.txt -e '.[all,dev]'
	touch $@

# The Docker-touching tests that make sense on Podman (podman system service's Docker-compatible socket; README:
# Remote engines and Podman). Left out, with why:
#   test_compose_images       its local registry speaks HTTP on 127.0.0.1: Podman pulls over HTTPS unless configured
#   test_compose_conformance  `docker compose up` of a file whose nproc ulimit this sandbox cannot grant (Podman sets
#                             it; Docker leaves it)
#   test_compose_options      asserts image names as Docker reports them (Podman: localhost/python:3.11-slim)
#   test_remote_engine        a second dockerd, not Podman (its copy test on the local engine runs)
PODMAN_SOCKET ?= /run/podman-test.sock
PODMAN_TESTS := $(addprefix tests/integration/,test_python_api.py runtime/test_topology.py pytest/test_pytest_plugin.py \
	runtime/test_start_failures.py test_extras.py model/test_compose_files.py runtime/test_base_images.py \
	fuzz/test_fuzz.py contracts/test_contracts.py contracts/test_contracts_verdicts.py \
	contracts/test_contracts_versions.py runtime/test_faults.py \
	runtime/test_remote_engine.py::test_a_copy_works_on_the_local_engine_too)
# Differences the README lists: Buildah words a failed RUN "exit status 7" (Docker: "returned a non-zero code");
# a fault helper left by a killed process blocks the removal of its consumer; a delay is lost across a consumer restart
PODMAN_SKIP := not test_a_failed_build and not test_a_killed_process_leaves_a_helper \
	and not test_a_fault_follows_its_provider_to_a_new_address_and_its_consumer_through_a_restart
test-podman: venv engine images
	PODMAN_SOCKET=$(PODMAN_SOCKET) bash fixtures/images/ensure-podman.sh
	DOCKER_HOST=unix://$(PODMAN_SOCKET) $(VENV)/bin/pytest -p no:cacheprovider $(PODMAN_TESTS) -k "$(PODMAN_SKIP)" \
		$(PYTEST_ARGS)

# One topology across three Docker engines joined by a swarm overlay network (docs/guides/engines.md): three dockerd in
# network namespaces of their own (fixtures/engines/netns_engines.py; root needed), joined into a swarm; names across
# engines, URLs, builds on the engine, a failed start, an unreachable engine, SIGKILL then the next start and
# `harness down` (FILE, --all, --run on any engine), kept runs, automatic placement, pytest --topology; and two
# engines of their own started in no swarm (--topology-swarm). Every namespace, daemon and folder is removed
# afterwards (sets left by a killed run: `python fixtures/engines/netns_engines.py down`). The tests take ~9 min at a
# load average of 15 (three engines with the base images loaded: ~35 s); .ci/run runs it after `make test` (which leaves these tests out, not to run them twice).
test-multi-engine: setup
	$(VENV)/bin/pytest -p no:cacheprovider tests/integration/engines $(PYTEST_ARGS)

bench: setup
	$(PY) bench/startup.py

# Runnerly's CI job assembled from the peers (docker compose up --wait, the pact CLI's verifier, st run per service,
# compose down) against one `pytest --topology ... --pact-verify --pact-drift --fuzz` run; findings compared. Needs
# the pact CLI (the `bench` extra, pact-python-cli): on PATH, or PACT=/path/to/pact.
bench-pipeline: setup
	$(PY) bench/pipeline.py $(if $(PACT),--pact $(PACT)) $(BENCH_ARGS)

# pytest start overhead of the plugin, against bare pytest in the same run: with the core alone (a venv without the
# extras) and with [all] (this venv).
CORE := .venv-core
bench-overhead: venv $(CORE)/.installed
	$(PY) bench/pytest_overhead.py --python $(CORE)/bin/python --python $(PY)

# Runnerly ready across three engines (dockerd in network namespaces, root) against one engine, and a call across
# engines against one on the same engine.
bench-engines: setup
	$(PY) bench/engines.py $(BENCH_ARGS)

$(CORE)/.installed: pyproject.toml
	test -x $(CORE)/bin/python || python3 -m venv $(CORE)
	$(CORE)/bin/python -m pip install -q -e .
	touch $@

setup: venv engine images report-tools

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $@

engine:
	bash fixtures/images/ensure-engine.sh

images: engine
	bash fixtures/images/ensure-base-images.sh

report-tools:
	bash fixtures/images/ensure-report-tools.sh

clean:
	-$(VENV)/bin/harness down
	rm -rf $(VENV) $(FLOOR) $(CORE) reports site
