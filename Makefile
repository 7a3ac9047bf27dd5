# The two commands of the README: `make run` (default study) and `make test` (test suite).
# Both build the environment first: a venv in .venv, filled from the lock file by uv.
# --compile-bytecode writes every package's .pyc at install time: with PYTHONDONTWRITEBYTECODE
# set (as on these machines) nothing else would, and each job would recompile torch's source
# on import (15 s -> 6 s per `import torch, torchvision` measured on 2 busy cores).
PYTHON ?= python3.11
VENV := .venv
BIN := $(abspath $(VENV))/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# The package is on PATH for every rule's `python -m robustsweep`.
export PATH := $(BIN):$(PATH)

.PHONY: env run test test-studies bench methods gpu-check gpu-wheels lint format lock report clean

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

# `make run STUDY="studies/tan2022.yaml studies/smoke/tan2022.yaml"` runs a study instead of
# config.yaml. Snakemake opens --configfile before the Snakefile, so a missing file would be a
# traceback there: it is named here first, in one line.
STUDY ?=
run: env
	@for file in $(STUDY); do test -f "$$file" || { echo "robustsweep config error: config \
	file '$$file' not found (STUDY); give the path of a study YAML, e.g. studies/tan2022.yaml" >&2; \
	exit 2; }; done
	snakemake --cores all $(if $(strip $(STUDY)),--configfile $(STUDY))

report: env
	snakemake --report report.html

test: env
	python -m pytest

# The four paper studies end to end at smoke scale (15-25 min on 2 cores).
test-studies: env
	python -m pytest -m study_smoke tests/test_studies.py

# Speed and size ratios against the bare libraries (benchmarks/RESULTS.md); about 15 min on
# 2 cores. BENCH_ARGS=--make-run adds the end-to-end default study (P8).
bench: env
	python benchmarks/run_benchmarks.py $(BENCH_ARGS)

# The method reference from the registries (workflow/robustsweep/method_reference.py);
# tests/test_method_reference.py fails while docs/methods.md differs from it.
methods: env
	python -m robustsweep methods > docs/methods.md

# Every CUDA path in one command on a GPU node (benchmarks/gpu_check.py; docs/cluster.md "GPU node
# without network"). It needs no env: the node's torch, torchvision, h5py, pandas and
# scikit-learn, and the wheels below.
gpu-check:
	python benchmarks/gpu_check.py

# On a networked machine: the wheels that node lacks (gpu_check.NODE_WHEELS, at the lock
# file's versions) for CPython 3.12 on manylinux x86_64, into $(GPU_WHEELS) (about 1.5 MB).
# There: pip install --no-index --no-deps $(GPU_WHEELS)/*.whl
GPU_WHEELS ?= gpu-wheels
GPU_PLATFORMS := manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_28_x86_64 any
gpu-wheels: env
	rm -rf $(GPU_WHEELS)
	python -m pip download --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: --python-version 3.12 --implementation cp \
		--abi cp312 --abi abi3 --abi none $(addprefix --platform ,$(GPU_PLATFORMS)) \
		-d $(GPU_WHEELS) $$(python benchmarks/gpu_check.py --wheel-requirements)
	@du -ch $(GPU_WHEELS)/*.whl | tail -1

lint: env
	ruff check .
	ruff format --check .
	snakefmt --check Snakefile rules
	snakemake --lint

format: env
	ruff check --fix .
	ruff format .
	snakefmt Snakefile rules

# Re-resolve the lock file after editing pyproject.toml. The override keeps a patched
# `requests` although torchattacks pins requests~=2.25.1 (see overrides.txt).
lock: env
	uv pip compile pyproject.toml --extra dev --override overrides.txt --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock

clean:
	rm -rf results .snakemake report.html
