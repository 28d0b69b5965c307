# Sekimori: two commands on a fresh machine: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# Debian packages the tests need (command=package).
SYSTEM_DEPS := zip=zip redis-server=redis-server prometheus=prometheus promtool=prometheus openssl=openssl postfix=postfix

.PHONY: install run test lint bench clean

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

clean:
	rm -rf $(VENV) var .pytest_cache
