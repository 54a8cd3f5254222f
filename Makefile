# The README's commands. Each creates .venv and installs the project on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CI sets TORCH_SPEC=torch==2.13.0 to take the CPU build that lies on disk.
TORCH_SPEC ?= torch>=2.2
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint docs bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test,examples]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -m "not gpu" -q

test-gpu: $(STAMP)
	$(BIN)/python -m pytest -m gpu -q

lint: $(STAMP)
	$(BIN)/ruff check neurode pinn tests examples benchmarks

docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	$(BIN)/mkdocs build --strict

bench-quick: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) runs site .pytest_cache
