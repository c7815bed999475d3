VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Two pytest workers: most of an end-to-end test is waiting (Prometheus scrapes, bakes), so two share the
# 2-core machine well; each test file stays on one worker. `make test WORKERS=0` runs in one process.
WORKERS ?= 2

.PHONY: demo test lint bench chaos clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/rollback-bot demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check bot handlers tests bench
	$(VENV)/bin/pytest -q -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/ack_latency.py
	$(PY) bench/undo_speed.py
	$(PY) bench/verify_speed.py
	$(PY) bench/strategy_times.py

chaos: $(VENV)/.installed
	$(PY) bench/chaos.py

clean:
	rm -rf $(VENV) *.egg-info rollback-bot.db
