# The two commands of the README's quick start, plus a few conveniences.
# Each target installs what is missing by itself (ops/bootstrap.sh, then `jackpot stack up`).

.PHONY: demo test test-unit chaos stack-up stack-down bootstrap

bootstrap:
	@ops/bootstrap.sh

demo: bootstrap
	.venv/bin/jackpot demo

test:
	@ops/bootstrap.sh --with-browser
	.venv/bin/python -m pytest -q -m "not chaos"

# The fault-injection tests, not yet in `make test` (see README): 100,000 bets with workers
# SIGKILLed at random, printing a `chaos: ...` summary line, and one worker against three.
chaos: bootstrap
	.venv/bin/python -m pytest -q -s -m chaos

test-unit: bootstrap
	.venv/bin/python -m pytest -q tests/unit

stack-up: bootstrap
	.venv/bin/jackpot stack up

stack-down: bootstrap
	.venv/bin/jackpot stack down
