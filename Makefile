# Two entry points: `make demo` (the main job) and `make test` (the whole suite, both precisions).
# `make docs` builds the documentation site.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.gmmjax-installed

# XLA's concurrency-optimised CPU scheduler can deadlock on independent batched
# linear-algebra calls (jaxlib 0.10.x); gmmjax sets this itself too, it is repeated here
# so that every process the Makefile starts is covered.
export XLA_FLAGS ?= --xla_cpu_enable_concurrency_optimized_scheduler=false
# NumPy's OpenBLAS starts one spinning thread per core in every process; with several test
# workers (and XLA's own threads) on two cores they fight over the CPU, and a loop of small
# float64 reference solves at d = 128 took 9.2 s instead of 0.12 s. The suite and the
# notebooks it runs use one BLAS thread per process.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: demo test lint docs install clean check-install

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gmmjax demo

# Both precisions, each spread over worker processes (pytest-xdist). Compilation is
# single-threaded and the notebook and subprocess tests wait on other processes, so three
# workers keep both cores of a 2-core machine busy (float32 run: 452 s with two, 326 s with
# three). Whole files go to one worker, which reuses the programs its tests share. Each run
# prints its wall time and its slowest tests.
TEST_WORKERS ?= 3
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=10

test: $(STAMP)
	@for x64 in 0 1; do \
	  start=$$(date +%s); \
	  JAX_ENABLE_X64=$$x64 $(PYTEST) || exit $$?; \
	  echo "JAX_ENABLE_X64=$$x64 run: $$(( $$(date +%s) - start )) s"; \
	done

lint: $(STAMP)
	$(VENV)/bin/ruff check gmmjax tests benchmarks notebooks/src
	$(VENV)/bin/ruff format --check gmmjax tests benchmarks notebooks/src

# Build the wheel, install it alone in a new venv, check the extras' messages and py.typed/LICENSE.
check-install:
	tools/check_install.sh

# The documentation site, docs/_build/html, with warnings as errors. The notebooks are executed
# during the build and their outputs cached in docs/_build/.jupyter_cache, so a rebuild runs
# only the notebooks that changed.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) gmmjax-demo .pytest_cache .ruff_cache docs/_build docs/api/generated docs/notebooks
