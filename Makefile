# Sekimori: two commands on a fresh machine: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# Debian packages the tests need (command=package).
SYSTEM_DEPS := zip=zip redis-server=redis-server prometheus=prometheus promtool=prometheus openssl=openssl postfix=postfix

.PHONY: install run test lint bench soak fuzz clean

$(STAMP): pyproject.toml
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m dlp.detect.refdata
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/dlp run --config config/dlp.yaml

test: $(STAMP)
	@scripts/system-deps $(SYSTEM_DEPS)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/run.py

# Load and integrity (issue 13): SOAK_UPLOADS uploads of mixed benign and personal files from
# SOAK_CLIENTS clients through a real `dlp run`, every one checked. `make test` runs 400 from 16.
SOAK_UPLOADS ?= 10000
SOAK_CLIENTS ?= 50
SOAK_SEED    ?= 1
soak: $(STAMP)
	@scripts/system-deps $(SYSTEM_DEPS)
	$(PY) tests/soak.py --uploads $(SOAK_UPLOADS) --clients $(SOAK_CLIENTS) --seed $(SOAK_SEED)

# Coverage-guided fuzzing (atheris/libFuzzer) of every parser, FUZZ_SECONDS per target;
# not part of `make test`. FUZZ_TARGETS narrows it (`fuzz/run.py --list` names them).
# Corpora and any crash-* inputs stay in var/fuzz/<target>/; replay one with
# `fuzz/run.py <target> var/fuzz/<target>/crash-...`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(shell $(PY) fuzz/run.py --list 2>/dev/null)
FUZZ_STAMP   := $(VENV)/.installed-fuzz

$(FUZZ_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[test,fuzz]'
	@touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		$(PY) fuzz/run.py $$t --seconds $(FUZZ_SECONDS); \
	done

clean:
	rm -rf $(VENV) var .pytest_cache
