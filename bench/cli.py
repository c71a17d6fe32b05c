"""``jackpot bench``: run the benchmarks on the local stack, print a table, then one JSON line
per benchmark: ``{"bench": NAME, "value": V, "unit": U, "baseline": B, "ratio": V/B}``
(``baseline`` and ``ratio`` are null where a benchmark has no baseline; ``detail`` carries
percentiles, sizes and targets).  With ``--chart PATH`` (full mode: ``bench-latency.png`` by
default) a PNG of offered rate against p99 latency is written too.

Every run has its own topics, consumer groups, database and worker processes, removed at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys

import click

from .benchmarks import NAMES, BenchFailed, run_benchmarks, table

DEFAULT_CHART = "bench-latency.png"


def write_chart(results, path: str) -> None:
    """The latency chart, if the latency benchmark ran; where it went (or why not) on stderr."""
    from .chart import latency_chart

    lat = next((r for r in results if r.bench == "latency_capacity_share"), None)
    if lat is None:
        click.echo("no latency chart: latency_capacity_share did not run", err=True)
        return
    click.echo(f"latency chart: {latency_chart(lat, path)}", err=True)


@click.group(invoke_without_command=True)
@click.option("--quick", is_flag=True, help="Small sizes (a few minutes, for CI).")
@click.option("--only", "only", multiple=True, type=click.Choice(NAMES),
              help="Run only these benchmarks (repeatable).")
@click.option("--keep", is_flag=True, help="Keep the run's topics, database and process logs.")
@click.option("--chart", "chart", type=click.Path(dir_okay=False, writable=True), default=None,
              help=f"Write a PNG of offered rate against p99 latency here (full mode default: {DEFAULT_CHART}; "
                   "quick mode: only when given).")
@click.pass_context
def bench(ctx: click.Context, quick: bool, only: tuple[str, ...], keep: bool, chart: str | None) -> None:
    """Benchmarks against baselines measured in the same run (full mode: 1,000,000 bets), on the
    local stack (started if it is not running)."""
    if ctx.invoked_subcommand is not None:
        return
    from jackpot.ops.stack import Stack, StackError
    from jackpot.settings import get_settings

    try:
        Stack().up()  # the benchmarks run on the local stack: start what is not running
    except StackError as exc:
        raise click.ClickException(str(exc)) from exc
    failure = None
    try:
        results = asyncio.run(run_benchmarks(quick, only, out=sys.stderr, base=get_settings(), keep=keep))
    except BenchFailed as exc:  # print what was measured, then fail
        results, failure = exc.results, exc
    except (RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(table(results))
    for r in results:
        click.echo(json.dumps(r.line(), sort_keys=False))
    path = chart if chart is not None else (None if quick else DEFAULT_CHART)
    if path is not None:
        write_chart(results, path)
    if failure is not None:
        raise click.ClickException(f"failed: {failure}")


@bench.command("list")
def list_benchmarks() -> None:
    """Name every benchmark."""
    for name in NAMES:
        click.echo(name)
