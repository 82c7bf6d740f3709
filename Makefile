# Set-up and the two everyday commands. Each target installs what it needs first, so both work
# on a fresh Debian machine with Python 3.11 (only the package registries reachable).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STORE  ?= ./archive-data

.PHONY: setup browser services pywb replay-ui run test lint clean

$(BIN)/sangrah: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/sangrah

# The main job, offline: crawl every source (feeds, sitemaps, listings -> articles) from the
# bundled replica web through the replay proxy into $(STORE). Live: the same without --replay.
run: setup
	$(BIN)/sangrah crawl --all --store $(STORE) --replay tests/corpus

# The browser tests (tests/test_web.py) drive Debian's chromium through Playwright, which never
# downloads a browser of its own; Noto has the Devanagari glyphs (CI runs as root on Debian).
browser:
	command -v chromium >/dev/null && dpkg -s fonts-noto-core >/dev/null 2>&1 || \
	  (apt-get update && apt-get install -y --no-install-recommends chromium fonts-noto-core)

# Debian's redis-server: the shared-frontier tests start their own on a free port.
services:
	command -v redis-server >/dev/null || \
	  (apt-get update && apt-get install -y --no-install-recommends redis-server)

# pywb 2.10 (tests/test_pywb.py replays our WARCs and CDXJ with it) pins old dependencies, so it
# gets a virtualenv of its own.
PYWB := .venv-pywb/bin/wayback

$(PYWB):
	$(PYTHON) -m venv .venv-pywb
	.venv-pywb/bin/pip install --quiet pywb==2.10.0

pywb: $(PYWB)

# ReplayWeb.page (npm package replaywebpage: ui.js + sw.js, AGPL-3.0, ~2 MB; not committed) for
# the replay origin of `sangrah browse`. `npm pack` checks the tarball against the registry's
# integrity hash; only the two scripts and the licence are kept.
REPLAYWEBPAGE := replaywebpage@2.5.3
VENDOR := archive/web/vendor/replaywebpage

$(VENDOR)/sw.js:
	command -v npm >/dev/null || (apt-get update && apt-get install -y --no-install-recommends npm)
	rm -rf $(VENDOR).tmp && mkdir -p $(VENDOR).tmp
	cd $(VENDOR).tmp && npm pack --silent $(REPLAYWEBPAGE) >/dev/null && \
	  tar xzf replaywebpage-*.tgz package/ui.js package/sw.js package/LICENSE package/package.json
	mkdir -p $(VENDOR) && mv $(VENDOR).tmp/package/* $(VENDOR)/ && rm -rf $(VENDOR).tmp

replay-ui: $(VENDOR)/sw.js

test: setup browser services pywb replay-ui
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(STORE) spool .pytest_cache
