# Every target creates what it needs: a fresh clone with python3 (3.10+) is enough.
PYTHON ?= python3
VENV := .venv
VENV42 := .venv-django42
DOCS_VENV := .venv-docs
# The benchmark's environments: the project with its peers that must never be its
# dependencies (django-dbbackup), and the original diskette 0.6.0 on its own.
BENCH_VENV := .venv-bench
DISKETTE06_VENV := .venv-diskette06
PIP_FLAGS := --quiet --disable-pip-version-check
PYTEST_ARGS ?=
# The suite runs on two processes (pytest-xdist), each with its own databases and
# PostgreSQL cluster; `make test XDIST=` runs it in one.
XDIST ?= -n 2
# The second test project, third-party apps from PyPI, has its own settings and so
# its own pytest run (the first one leaves tests/realsite out; see its conftest).
# PYTEST_ARGS go to both runs: give options (-x, -m "not slow"), not paths.
REALSITE_ARGS := --ds=tests.realsite.settings --confcutdir=tests/realsite tests/realsite
# The third, a Wagtail site driven through manage.py, runs on Django 5.2 only.
WAGTAILSITE_ARGS := --ds=tests.wagtailsite.settings --confcutdir=tests/wagtailsite tests/wagtailsite

.DEFAULT_GOAL := help
.PHONY: help install demo test test-django52 test-django42 lint format docs bench clean

help:
	@echo "diskette: dump and load a Django site's data and media as one archive"
	@echo
	@echo "  make install   create .venv with diskette (editable), Django 5.2 and the dev tools"
	@echo "  make demo      seed the sandbox project (SQLite), then run diskette on it end to end"
	@echo "  make test      ruff, then the whole suite on Django 5.2 and on Django 4.2"
	@echo "  make lint      ruff check, ruff format --check and mypy (strict) on the API"
	@echo "  make format    ruff format and ruff check --fix"
	@echo "  make docs      build the Sphinx documentation (warnings are errors)"
	@echo "  make bench     run the benchmark (SQLite, S3, PostgreSQL, media) in .venv-bench"
	@echo "  make clean     remove the virtual environments, caches, builds and sandbox/var"

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[dev,realsite,wagtailsite,s3,sftp,zstd,crypto]' 'Django>=5.2,<5.3'
	touch $@

$(VENV42)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV42)
	$(VENV42)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV42)/bin/pip install $(PIP_FLAGS) -e '.[dev,realsite,s3,sftp,zstd,crypto]' 'Django>=4.2,<4.3'
	touch $@

$(DOCS_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(DOCS_VENV)/bin/pip install $(PIP_FLAGS) -e '.[docs]' 'Django>=5.2,<5.3'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/python sandbox/demo.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test-django52: install
	@echo "== pytest on $$($(VENV)/bin/python -m django --version | sed 's/^/Django /')"
	$(VENV)/bin/pytest $(XDIST) $(PYTEST_ARGS)
	$(VENV)/bin/pytest $(XDIST) $(REALSITE_ARGS) $(PYTEST_ARGS)
	$(VENV)/bin/pytest $(WAGTAILSITE_ARGS) $(PYTEST_ARGS)

test-django42: $(VENV42)/.installed
	@echo "== pytest on $$($(VENV42)/bin/python -m django --version | sed 's/^/Django /')"
	$(VENV42)/bin/pytest $(XDIST) $(PYTEST_ARGS)
	$(VENV42)/bin/pytest $(XDIST) $(REALSITE_ARGS) $(PYTEST_ARGS)

test: lint test-django52 test-django42

docs: $(DOCS_VENV)/.installed
	$(DOCS_VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

$(BENCH_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(BENCH_VENV)/bin/pip install $(PIP_FLAGS) -e '.[dev,s3,zstd,crypto]' 'Django>=5.2,<5.3' 'django-dbbackup>=5,<6'
	touch $@

$(DISKETTE06_VENV)/.installed:
	$(PYTHON) -m venv $(DISKETTE06_VENV)
	$(DISKETTE06_VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(DISKETTE06_VENV)/bin/pip install $(PIP_FLAGS) 'diskette==0.6.0' 'Django>=5.2,<5.3'
	touch $@

# Every case by default (sized to stay under 45 minutes on 2 cores); BENCH_ARGS="--cases media"
# runs one. PostgreSQL's server binaries and zstd come from the system's packages.
bench: $(BENCH_VENV)/.installed $(DISKETTE06_VENV)/.installed
	$(BENCH_VENV)/bin/python tests/benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(VENV42) $(DOCS_VENV) $(BENCH_VENV) $(DISKETTE06_VENV) build dist *.egg-info .pytest_cache .ruff_cache docs/_build sandbox/var
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
