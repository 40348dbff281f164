# thinkroute — two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
POLICY ?= policies/default.yaml
HOST ?= 127.0.0.1
PORT ?= 8080
# CPU wheel of torch unless an NVIDIA GPU is present (GPU users bring their own CUDA build).
TORCH_CPU_PIN ?= torch==2.13.0

.PHONY: serve test install install-dev lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-local: pyproject.toml | $(BIN)/python
	@if ! command -v nvidia-smi >/dev/null 2>&1 && ! $(BIN)/python -c "import torch" 2>/dev/null; then \
		echo "no GPU found: installing the CPU build of torch ($(TORCH_CPU_PIN))"; \
		$(BIN)/pip install -q "$(TORCH_CPU_PIN)"; \
	fi
	$(BIN)/pip install -q -e ".[local]"
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-local
	$(BIN)/pip install -q -e ".[local,dev]"
	@touch $@

install: $(VENV)/.installed-local

install-dev: $(VENV)/.installed-dev

serve: install
	$(BIN)/thinkroute serve --policy $(POLICY) --host $(HOST) --port $(PORT)

test: install-dev
	bash scripts/run_tests.sh

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy router

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
