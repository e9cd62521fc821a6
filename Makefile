# Two set-up commands (see README): `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench package clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## install and start the workstation (pass files: make run ARGS="study.dcm")
	$(PY) main.py $(ARGS)

test: $(STAMP)  ## install and run the default test suite (lint + tests, ~minutes)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

test-slow: $(STAMP)  ## the slow tests: real bundled model, long fuzz and kill loops
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/bench_classifier.py

package: $(STAMP)
	bash packaging/build.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
