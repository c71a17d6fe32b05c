"""``jackpot simulate``: Monte Carlo over the live engine, with a progress bar and an HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .runner import run_scenarios
from .traffic import TrafficProfile


@click.command("simulate")
@click.argument("configs", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--template", "templates", multiple=True, help="a campaign template name (repeatable)")
@click.option("--day-one", "day_one", multiple=True, help="a day-one jackpot name, e.g. 'Crown Fortune' (repeatable)")
@click.option("--cycles", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--seed", default="0", show_default=True, help="same seed -> identical results")
@click.option("--traffic", "traffic_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON TrafficProfile (concurrent_players, bets_per_player_hour, bet_median, ...)")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1))
@click.option("--out", "out_dir", default="simulation-report", show_default=True, type=click.Path(file_okay=False))
def simulate(configs, templates, day_one, cycles, seed, traffic_file, workers, out_dir):
    """Simulate CONFIG... (JSON Jackpot documents), templates or day-one jackpots; compare up to 3."""
    specs = list(configs) + [f"template:{t}" for t in templates] + [f"day-one:{d}" for d in day_one]
    if not specs:
        raise click.UsageError("give at least one CONFIG, --template or --day-one")
    if len(specs) > 3:
        raise click.UsageError("compare at most 3 configurations")
    traffic = TrafficProfile.from_dict(json.loads(Path(traffic_file).read_text())) if traffic_file else TrafficProfile()
    from .runner import load_config
    from .core import plan_levels
    total = sum(len(plan_levels(load_config(s)[1], traffic)) for s in specs)
    with click.progressbar(length=total, label=f"Simulating {cycles} cycles per level") as bar:
        path = run_scenarios(specs, Path(out_dir), traffic=traffic, cycles=cycles, seed=seed, workers=workers,
                             on_level_done=lambda s, lv: bar.update(1))
    click.echo(f"report: {path}")
