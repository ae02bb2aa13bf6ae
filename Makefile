# Two commands do everything on a fresh machine: `make demo` and `make test`.
.PHONY: setup demo test db-start db-stop bench clean

VENV := .venv/bin

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/gridplanner demo

test: setup
	$(VENV)/gridplanner db start
	$(VENV)/python -m pytest -n 2 -q

db-start: setup
	$(VENV)/gridplanner db start

db-stop:
	$(VENV)/gridplanner db stop

bench: setup
	$(VENV)/python -m pip install -q -e ".[bench]"
	$(VENV)/python -m bench.run_all

clean:
	-$(VENV)/gridplanner db stop
	rm -rf .venv .gridplanner web/node_modules
