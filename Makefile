# Two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# the decision path is compiled at install (setup.py, aurora/native.py): a change of its sources reinstalls
NATIVE := setup.py $(wildcard aurora/native.py aurora/gate/*.py)
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(NATIVE) | cksum | cut -d' ' -f1)

.PHONY: run test lint bench install clean readme-tables system-deps bench-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml $(NATIVE)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/auroractl one-click --mode testnet --venue paper --duration 1m --preflight

# Debian packages some tests use (prometheus: promtool and a real Prometheus; prometheus-alertmanager:
# amtool; systemd: systemd-analyze; headless Chromium). Best effort: tests that need a
# missing one skip with a clear reason.
define apt_ensure
	@missing=""; for pair in $(1); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null 2>&1 \
	      || echo "note: could not install$$missing; the tests/benchmarks that need them will be skipped"; \
	  else echo "note: cannot apt-get install$$missing here; the tests/benchmarks that need them will be skipped"; fi; \
	fi
endef

system-deps:
	$(call apt_ensure,promtool:prometheus amtool:prometheus-alertmanager systemd-analyze:systemd chromium:chromium)

bench-deps:
	$(call apt_ensure,wrk:wrk taskset:util-linux)

# Four workers on the suite's 2 cores: its end-to-end tests wait on real processes and paced replays
# about half the time (measured: -n 2 kept the cores ~50% busy, 272 s; -n 4 ~200 s), and work stealing
# keeps the slow ones from ending the run on one worker. The secret-leak scan runs once, after every
# worker is done.
test: install system-deps
	NO_COLOR=1 $(BIN)/python -m pytest -n 4 --dist worksteal

lint: install
	$(BIN)/ruff check aurora runner oneclick auroractl tests bench

bench: install bench-deps
	$(BIN)/python -m bench

readme-tables: install
	$(BIN)/python -m aurora.docgen README.md

clean:
	rm -rf $(VENV) .aurora build aurora/native_manifest.json
	find . -name '*.so' -not -path './.venv/*' -delete
