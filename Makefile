# pfx: the two set-up commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test venv clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=64,<85" wheel
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	$(PY) -m pip install -q -e docs/examples/pfx_example_agent --config-settings editable_mode=compat
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
