# The two commands of the README's quick start, plus a few conveniences.
# Each target installs what is missing by itself (ops/bootstrap.sh, then `jackpot stack up`).

.PHONY: demo test test-unit chaos stack-up stack-down bootstrap

bootstrap:
	@ops/bootstrap.sh

demo: bootstrap
	.venv/bin/jackpot demo

# Everything, the fault-injection tests last and unsilenced so their summary lines show
# (`chaos: bets=100000 kills=5 lost=0 ...`).
test:
	@ops/bootstrap.sh --with-browser
	.venv/bin/python -m pytest -q -m "not chaos"
	.venv/bin/python -m pytest -q -s -m chaos

# Only the fault-injection tests: 100,000 bets with workers SIGKILLed at random, a worker frozen
# past its session timeout, and one worker against three.
chaos: bootstrap
	.venv/bin/python -m pytest -q -s -m chaos

test-unit: bootstrap
	.venv/bin/python -m pytest -q tests/unit

stack-up: bootstrap
	.venv/bin/jackpot stack up

stack-down: bootstrap
	.venv/bin/jackpot stack down
