# Set-up and the two everyday commands. Each target installs what it needs first, so both work
# on a fresh Debian machine with Python 3.11 (only the package registries reachable).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STORE  ?= ./archive-data

.PHONY: setup run test lint clean

$(BIN)/sangrah: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/sangrah

# Offline demo of the main job: every article URL of the bundled corpus, answered by the replay
# proxy, archived into $(STORE). The live form is the same command without --replay.
run: setup
	$(BIN)/sangrah fetch --store $(STORE) --replay tests/corpus \
	  $$($(BIN)/python -m tests.corpus_urls --kind article)

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(STORE) spool .pytest_cache
