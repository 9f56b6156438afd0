# Two commands do all the set-up on a fresh machine:
#   make book   builds the Jupyter Book into _build/html
#   make test   runs lint and the whole test suite (library, notebooks, book in a browser, grading)
# While working: make test-fast skips what builds the book, opens a browser or grades whole
# courses (the tests marked slow): about 4 minutes on two cores.
PYTHON ?= python3
# The environment every command runs in: this checkout's own .venv, or on a class's server
# the shared one (deploy/hub), which LOSSLANDSCAPE_ENV names and make never rebuilds.
VENV ?= $(or $(LOSSLANDSCAPE_ENV),.venv)
BIN := $(VENV)/bin

NBGRADER := PATH=$(abspath $(BIN)):$$PATH $(abspath $(BIN))/nbgrader
ASSIGNMENT := optimizers
# The course folder grades and reports are read from (this one; tests pass another).
COURSE ?= .

.PHONY: book test test-fast lint bench system clean release autograde feedback grades report

ifeq ($(VENV),.venv)
$(VENV)/installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@
else
$(VENV)/installed:
	@test -x $(BIN)/nbgrader || { echo "$(VENV) is not a course environment (no bin/nbgrader):" \
		"build it with deploy/hub/install, as root"; exit 1; }
endif

# Debian's Chromium drives the browser tests; bubblewrap, setpriv (util-linux) and
# libseccomp sandbox student code while autograding; Debian's python3-venv builds the shared
# environment a class's server runs (deploy/hub), which the tests build as well; Node.js runs
# the book's twin of the model in the fast tests, and npm installs the hub's proxy. Only what
# is missing is installed, and nothing already installed is upgraded.
system:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v setpriv >/dev/null || missing="$$missing util-linux"; \
	/sbin/ldconfig -p | grep -q libseccomp.so.2 || missing="$$missing libseccomp2"; \
	/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -ne 0 ]; then echo "please install:$$missing (apt-get, as root)"; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-upgrade $$missing; \
	fi

# --all: every chapter runs again, so the book always shows the current library.
book: $(VENV)/installed
	$(BIN)/jupyter-book build . --all --warningiserror --nitpick --keep-going

lint: $(VENV)/installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: system lint
	$(BIN)/pytest

test-fast: system lint
	$(BIN)/pytest -m "not slow"

# Timings live here, never in the tests: the library against the original notebook's loops,
# grading, the built book in Chromium (make book first), and how many mistakes the feedback
# names on the fixtures.
bench: $(VENV)/installed
	$(BIN)/python benchmarks/speed.py
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/grading.py
	$(BIN)/python benchmarks/book.py
	$(BIN)/python benchmarks/diagnosis.py

# The instructor's flow (see README): nbgrader calls alembic, so the venv's bin goes on PATH.
release: $(VENV)/installed
	$(NBGRADER) generate_assignment $(ASSIGNMENT) --force

# The gradebook needs the assignment before the first autograde.
gradebook.db: | $(VENV)/installed
	$(NBGRADER) generate_assignment $(ASSIGNMENT) --force

# Without bubblewrap or user namespaces, autograde stops and says what to do (see README).
autograde: $(VENV)/installed gradebook.db
	$(NBGRADER) autograde $(ASSIGNMENT)

feedback: $(VENV)/installed
	$(NBGRADER) generate_feedback $(ASSIGNMENT)

# nbgrader's own CSV, and the same totals in the layout of Canvas's gradebook import.
grades: $(VENV)/installed
	cd $(COURSE) && $(NBGRADER) export --to grades.csv
	$(abspath $(BIN))/python -m losslandscape.grading.report $(ASSIGNMENT) --course $(COURSE) --canvas

# What the class got wrong: reports/$(ASSIGNMENT)/mistakes.csv and index.html.
report: $(VENV)/installed
	$(abspath $(BIN))/python -m losslandscape.grading.report $(ASSIGNMENT) --course $(COURSE)

clean:
	rm -rf _build artifacts
