# Policy Coach. `make run` starts everything; `make test` sets up and runs the tests.
SHELL := /bin/bash
PY ?= python3
APP := .venv/bin
RASA := .venv-rasa/bin/rasa
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
POLICIES := $(wildcard data/policies/*)

.PHONY: run test test-fast setup index model bench lint browser-deps adapter check-user

setup: .venv/.stamp .venv-rasa/.stamp

# App environment: knowledge, action server, UI, tests. Rebuilt only when its requirements change.
.venv/.stamp: pyproject.toml requirements/app.lock
	test -x $(APP)/python || $(PY) -m venv .venv
	$(APP)/pip install -q --upgrade pip
	$(APP)/pip install -q torch==2.13.0
	$(APP)/pip install -q -r requirements/app.lock
	$(APP)/pip install -q --no-deps -e .
	$(APP)/pip check
	touch $@

# Rasa 3.6.21 in its own environment (its pins clash with the app's); see DEVELOPERS.md.
.venv-rasa/.stamp: requirements/rasa-py311.lock
	test -x .venv-rasa/bin/python || $(PY) -m venv .venv-rasa
	.venv-rasa/bin/pip install -q --no-deps --ignore-requires-python -r requirements/rasa-py311.lock
	touch $@

# The shipped policies plus any the coordinator uploaded (kept in the runtime dir, never in data/policies).
index: .venv/.stamp
	$(APP)/policy-coach ingest --uploads $(POLICIES)

model: .venv/.stamp .venv-rasa/.stamp
	$(APP)/python -m bot.ops.stack train

# Root can read every secret and rewrite the code it runs: a school server runs this as a service user (docs/systemd).
check-user:
	@if [ "$$(id -u)" = 0 ]; then echo "WARNING: make run is running as root. On a school server run Policy Coach as an unprivileged user (see docs/systemd/README.md)." >&2; fi

run: check-user setup index model
	$(APP)/python -m bot.ops.stack run

browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Ruff, then the layering contracts in pyproject.toml [tool.importlinter] (knowledge -> no bot/ui, bot -> no ui,
# ui -> no bot.actions, the training domain -> no rasa_sdk/streamlit).
lint: .venv/.stamp
	$(APP)/ruff check knowledge bot ui tests
	$(APP)/lint-imports

# Fast tier: no real model, no Rasa, no Postgres/Redis, no browser (SQLite and the hashing encoder); a test
# that loads the model or starts a stack without @pytest.mark.slow fails (tests/conftest.py). One pytest-xdist
# worker per core; each builds its own session fixtures (a migrated database, a hashing-encoder index).
test-fast: .venv/.stamp
	$(APP)/python -m pytest -q -m "not slow" -n auto

# Both tiers. CI order: lint -> pytest -> rasa data validate -> rasa train -> rasa test (stories), then the stack tests.
test: setup browser-deps index lint
	$(RASA) data validate --domain bot/domain.yml --data data/rasa --config config.yml --fail-on-warnings
	$(APP)/python -m bot.ops.stack train
	$(APP)/python -m pytest -q

# Figures, not assertions: retrieval (ingest time, index size, latency, memory, eval sets), NLU
# cross-validation, latency and load through a fresh stack.
bench: setup index model
	$(APP)/python -m knowledge.bench --split all
	$(APP)/python -m knowledge.bench_parse
	$(APP)/python -m bot.perf.bench

# Retrain the small LoRA adapter in data/retrieval/adapter.npz from the retrieval data (fixed seeds; ~5-7 min CPU).
adapter: .venv/.stamp
	$(APP)/python -m knowledge.encoder train
