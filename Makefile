# Two commands do everything on a fresh machine:
#   make course   set up, then execute every lecture notebook headless, write the offline course site to build/
#                 (open build/index.html) and print their times
#   make test     set up, then run the whole test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.cvlab-installed

.PHONY: setup course test lint release clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v bwrap >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }
	@command -v bwrap >/dev/null || echo "note: install bubblewrap (apt-get install bubblewrap) to autograde sandboxed"
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		echo "note: install Chromium (apt-get install chromium) to run the browser tests (tests/browser)"
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "cvlab needs Python >= 3.11 (nbgrader 0.9)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	# torch and torchvision come together from the registry, pinned as a matching pair in constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cvlab)"
	touch $(STAMP)

course: setup
	$(BIN)/python -m cvlab.course --out build

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check cvlab tests benchmarks notebooks solutions

clean:
	rm -rf build .pytest_cache
