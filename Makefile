# pfx: the two set-up commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test venv clean

# Editable "compat" mode puts the checkout itself on sys.path, so that twisted.plugin
# finds ./twisted/plugins (see docs/architecture.md, Packaging).
EDITABLE := --config-settings editable_mode=compat
PIPLOG := $(VENV)/pip.log

$(STAMP): setup.cfg pyproject.toml docs/examples/pfx_example_agent/setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing pfx and its dependencies into $(VENV) (log: $(PIPLOG))"
	@( $(PY) -m pip install --upgrade pip "setuptools>=64,<85" wheel && \
	   $(PY) -m pip install -e '.[test]' $(EDITABLE) && \
	   $(PY) -m pip install -e docs/examples/pfx_example_agent $(EDITABLE) ) \
	   > $(PIPLOG) 2>&1 || { tail -30 $(PIPLOG); exit 1; }
	touch $(STAMP)

venv: $(STAMP)

# Run pfx in the foreground on its embedded default: etc/ (127.0.0.1:2525, ./var).
run: $(STAMP)
	$(VENV)/bin/pfx check -c etc
	$(VENV)/bin/twistd --pidfile= -n pfx -c etc

# Install what the tests use (Debian packages when root), then run the whole suite.
test: $(STAMP)
	bash tests/install-peers.sh
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) var build *.egg-info
