# pimgen: the two commands for a fresh clone are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: all venv demo test bench lint clean distclean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

# Cora through the GNN engine and the digits MLP through the CiM tile in Verilator, each compared bit-exact with
# its golden model.
demo: $(STAMP)
	$(BIN)/pimgen run gnn --dataset cora --features 16 --lanes 8 --format int16 --op sum
	$(BIN)/pimgen run cim --dataset digits

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) tests

# Benchmarks: JSON in build/bench/, a table on stdout.
bench: $(STAMP)
	$(BIN)/pimgen bench gnn --cold
	$(BIN)/pimgen bench cim
	$(BIN)/pimgen bench snn

lint: $(STAMP)
	$(BIN)/pimgen generate gnn --lanes 8 --format int16 --out build/gnn --lint
	$(BIN)/pimgen generate cim --out build/cim --lint
	$(BIN)/pimgen generate snn --out build/snn --lint

clean:
	rm -rf build .pytest_cache

distclean: clean
	rm -rf $(VENV)
