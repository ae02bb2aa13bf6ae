# Two commands do everything on a fresh machine: `make demo` and `make test`.
.PHONY: setup demo test test-fast db-start db-stop bench clean

VENV := .venv/bin

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/gridplanner demo

test: setup
	$(VENV)/gridplanner db start
	$(VENV)/python -m pytest -n 2 -q

# The inner loop: everything but the tests marked slow (CI runs `make test`, all of them).
test-fast: setup
	$(VENV)/gridplanner db start
	$(VENV)/python -m pytest -n 2 -q -m "not slow"

db-start: setup
	$(VENV)/gridplanner db start

db-stop:
	$(VENV)/gridplanner db stop

# Benchmarks are slow (minutes each) and need the bench extra and wrk; each writes its section of docs/benchmarks.md.
BENCHES := bench_plan bench_merge bench_lookup bench_tiles bench_incidents bench_load

bench: setup
	$(VENV)/python -m pip install -q -e ".[bench]"
	command -v wrk >/dev/null || apt-get install -y -qq wrk
	$(VENV)/gridplanner db start
	for b in $(BENCHES); do $(VENV)/python -m bench.$$b || exit 1; done

clean:
	-$(VENV)/gridplanner db stop
	rm -rf .venv .gridplanner web/node_modules
