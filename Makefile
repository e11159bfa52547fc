# minilocal: `make tutorials` and `make test` are the whole set-up; each creates .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first so that pip never pulls a multi-GB CUDA build on a CPU machine.
# With a GPU: make setup TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124"
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.minilocal-installed

.PHONY: setup test unit notebooks tutorials lab bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_SPEC)
	$(PY) -m pip install -e ".[dev]"
	@touch $@

test: setup unit notebooks tutorials  # tutorials: papermill with the reference solutions (checked)

unit: setup
	$(PY) -m pytest tests

notebooks: setup
	$(PY) ci/check_notebooks.py tutorials
	$(PY) -m pytest --nbval-lax --nbval-sanitize-with ci/nbval_sanitize.cfg \
		-p no:cacheprovider tutorials

tutorials: setup
	$(PY) ci/run_tutorials.py -p SOLUTIONS True

lab: setup
	$(PY) -m ipykernel install --user --name minilocal --display-name "minilocal (.venv)"
	$(VENV)/bin/jupyter lab --notebook-dir=tutorials

bench: setup
	$(PY) ci/bench_model.py

clean:
	rm -rf build .pytest_cache
