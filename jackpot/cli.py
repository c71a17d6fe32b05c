"""The ``jackpot`` command: one entry point for every process and operator task."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from jackpot.settings import get_settings


def _configure_logging(level: str) -> None:
    from jackpot.logs import configure

    configure(level, get_settings().library_log_level)


@click.group()
@click.option("--log-level", default="info", show_default=True, help="debug, info, warning, error")
@click.pass_context
def main(ctx: click.Context, log_level: str) -> None:
    """Operator-owned progressive jackpot engine."""
    ctx.ensure_object(dict)
    ctx.obj["log_level"] = log_level
    _configure_logging(log_level)


# ------------------------------------------------------------------ local stack
@main.group()
def stack() -> None:
    """Start, stop and inspect the local Kafka, PostgreSQL and Redis."""


@stack.command("up")
@click.option("--registry", is_flag=True, help="Also run a local schema registry (Apicurio, Confluent API).")
def stack_up(registry: bool) -> None:
    """Install what is missing and start the local stack (idempotent)."""
    from jackpot.ops.registry import SchemaRegistryService
    from jackpot.ops.stack import Stack, StackError

    try:
        Stack().up()
        if registry:
            service = SchemaRegistryService(get_settings())
            service.up()
            click.echo(f"schema registry: SCHEMA_REGISTRY_URL={service.url}")
    except StackError as exc:
        raise click.ClickException(str(exc)) from exc


@stack.command("down")
def stack_down() -> None:
    """Stop the services this stack started (and nothing else)."""
    from jackpot.ops.registry import SchemaRegistryService
    from jackpot.ops.stack import Stack

    SchemaRegistryService(get_settings()).down()
    Stack().down()


@stack.command("status")
def stack_status() -> None:
    from jackpot.ops.registry import SchemaRegistryService
    from jackpot.ops.stack import Stack

    status = Stack().status()
    status["schema-registry"] = SchemaRegistryService(get_settings()).status()
    click.echo(json.dumps(status, indent=2))


# ------------------------------------------------------------ schema and topics
@main.command()
def migrate() -> None:
    """Apply pending PostgreSQL migrations."""
    from jackpot.sinks.migrate import migrate as run

    applied = asyncio.run(run(get_settings().database_url))
    click.echo(f"applied: {', '.join(applied) if applied else 'nothing (up to date)'}")


@main.command()
def topics() -> None:
    """Create the Kafka topics with the configured partition count."""
    from jackpot.streams.topics import ensure_topics

    created = asyncio.run(ensure_topics(get_settings()))
    click.echo(f"created: {', '.join(created) if created else 'nothing (all exist)'}")


# ------------------------------------------------------------------- processes
@main.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a stream worker (router, jackpot agent, sinks). Scale by adding processes."""
    from jackpot.streams.worker import run_worker

    run_worker(get_settings(), ctx.obj["log_level"])


@main.command()
def sinks() -> None:
    """Run the sinks (ledger and events into PostgreSQL, live values into Redis) on their own,
    for workers started with JACKPOT_WORKER_SINKS=false. Scale by adding processes."""
    import asyncio

    from jackpot.sinks.service import serve

    asyncio.run(serve(get_settings()))


@main.command()
def gateway() -> None:
    """Run the public WebSocket ticker gateway."""
    from aiohttp import web

    from jackpot.gateway.ticker import create_gateway

    s = get_settings()
    web.run_app(create_gateway(s), host=s.gateway_host, port=s.gateway_port, print=None)


@main.command("player-token")
@click.argument("player_id")
@click.option("--ttl", "ttl_s", type=int, default=3600, show_default=True, help="seconds until it expires")
def player_token_cmd(player_id: str, ttl_s: int) -> None:
    """Sign a player token as the operator's platform would (JACKPOT_PLAYER_TOKEN_SECRET), to try
    a player's journey: curl -H "Authorization: Bearer $(jackpot player-token p1)" .../journey."""
    from jackpot.gateway.player_views import player_token

    secret = get_settings().player_token_secret
    if not secret:
        raise click.ClickException("JACKPOT_PLAYER_TOKEN_SECRET is not set: player journeys are off")
    click.echo(player_token(secret, player_id, ttl_s))


@main.command()
@click.option("--port", type=int, default=None, help="default: JACKPOT_WALLET_PORT (8790)")
def wallet(port: int | None) -> None:
    """Run the reference wallet (idempotent credits, fault injection) for demos and tests."""
    from aiohttp import web

    from jackpot.ops.wallet import create_wallet

    web.run_app(create_wallet(), host="127.0.0.1", port=port or get_settings().wallet_port, print=None)


@main.command("campaign-receiver")
@click.option("--port", type=int, default=None, help="default: JACKPOT_CAMPAIGN_RECEIVER_PORT (8796)")
def campaign_receiver(port: int | None) -> None:
    """Run the reference receiver of campaign deliveries (signed, idempotent, fault injection)."""
    from aiohttp import web

    from jackpot.campaigns.receiver import Receiver, receiver_app

    settings = get_settings()
    secret = settings.campaign_secret.encode()
    if len(secret) < 16:
        raise click.UsageError("set JACKPOT_CAMPAIGN_SECRET (at least 16 bytes) to the key deliveries are signed with")
    web.run_app(receiver_app(Receiver(secret)), host="127.0.0.1", port=port or settings.campaign_receiver_port, print=None)


@main.command()
@click.pass_context
def campaigns(ctx: click.Context) -> None:
    """Run the campaign automation stages (rules on engine events, per-player limits, delivery).
    Scale by adding processes."""
    from jackpot.streams.campaigns import run_campaigns

    run_campaigns(get_settings(), ctx.obj["log_level"])


@main.group()
def campaign() -> None:
    """Publish campaign rules and throw the kill switch (until the admin API holds them)."""


@campaign.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--approved-version", "approved", type=int, multiple=True,
              help="a version a manager approved (fires reaching more players than the threshold need one)")
def campaign_publish(file: Path, approved: tuple[int, ...]) -> None:
    """Validate a rule (JSON) and publish it as the rule's current version."""
    from pydantic import ValidationError

    from jackpot.campaigns.rules import Rule
    from jackpot.streams.campaigns import publish_rule

    try:
        rule = Rule.model_validate_json(file.read_bytes())
    except ValidationError as exc:
        raise click.ClickException(f"not a valid rule: {exc}") from None
    asyncio.run(publish_rule(get_settings(), rule, approved))
    click.echo(f"published rule {rule.rule_id} v{rule.version} ({'dry run' if rule.dry_run else 'live'})")


@campaign.command("kill-switch")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--actor", default=None, help="who throws it (default: cli:<OS user name>)")
def campaign_kill_switch(state: str, actor: str | None) -> None:
    """Stop all campaign automation at once (on), or let it run again (off)."""
    from jackpot.gateway.admin.publication import cli_actor
    from jackpot.streams.campaigns import set_kill_switch

    asyncio.run(set_kill_switch(get_settings(), state == "on", actor or cli_actor()))
    click.echo(f"campaign kill switch {state}")


# -------------------------------------------------------------------- configs
@main.group()
def config() -> None:
    """Publish jackpot configurations."""


@config.command("apply")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--demo", is_flag=True, help="Publish the day-one demo portfolio.")
@click.option("--actor", default=None, help="Who publishes, for the audit trail (default: cli:<OS user name>).")
def config_apply(files: tuple[Path, ...], demo: bool, actor: str | None) -> None:
    """Validate, record, audit and publish jackpot configs (JSON files) to the configs topic.

    Each config becomes a version in PostgreSQL with its Back Office record and an audit entry,
    in one transaction, before anything is sent; a config the broker does not confirm stays in
    the outbox and is sent by the admin API's relay (or the next apply).
    """
    from aiokafka.errors import KafkaError

    from jackpot.gateway.admin.publication import ConfigRefused, cli_actor
    from jackpot.streams.publish import demo_portfolio, publish_configs

    docs = [json.loads(p.read_text()) for p in files]
    if demo:
        docs += demo_portfolio()
    if not docs:
        raise click.UsageError("give config files or --demo")
    actor = actor or cli_actor()
    held: list[str] = []
    try:
        ids = asyncio.run(publish_configs(get_settings(), docs, actor=actor, held=held))
    except ConfigRefused as exc:
        raise click.ClickException(f"nothing published: {exc}") from None
    except (asyncio.TimeoutError, KafkaError) as exc:
        raise click.ClickException(
            f"configs recorded and audited, but the broker did not confirm them ({type(exc).__name__}); they wait "
            "in the outbox: the admin API's relay or the next `jackpot config apply` sends them") from None
    click.echo(f"published {len(ids)} config(s) as {actor}: {', '.join(ids)}")
    if held:
        click.echo(f"held until the next cycle (the compliance profile forbids math changes mid-cycle; the admin "
                   f"API's scheduler publishes them after the reseed): {', '.join(held)}")


# ------------------------------------------------------------------------ bets
@main.command()
@click.option("--rate", type=float, default=50.0, show_default=True, help="bets per second (0 = as fast as possible)")
@click.option("--count", type=int, default=0, help="stop after this many bets (0 = run until interrupted)")
@click.option("--players", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=None, help="random seed for a reproducible stream")
def bets(rate: float, count: int, players: int, seed: int | None) -> None:
    """Produce realistic Avro BetPlaced events (a reference producer)."""
    from jackpot.streams.loadgen import run_loadgen

    asyncio.run(run_loadgen(get_settings(), rate=rate, count=count, players=players, seed=seed))


# ------------------------------------------------------------------------ demo
@main.command()
@click.option("--rate", type=float, default=20.0, show_default=True, help="bets per second")
def demo(rate: float) -> None:
    """Run everything: local stack, worker, gateway, demo portfolio and a trickle of bets."""
    from jackpot.ops.demo import run_demo

    sys.exit(run_demo(get_settings(), rate=rate))


@main.command("reconcile")
@click.option("--settle", "settle_s", type=float, default=None,
              help="Seconds a difference may be ledger lag before it is a mismatch (default: JACKPOT_RECONCILE_SETTLE_S).")
def reconcile_cmd(settle_s: float | None) -> None:
    """Reconcile the ledger with the live pools now (the worker's leader does it every 15 minutes).

    Records the run in PostgreSQL, publishes the result, and puts every jackpot that differs in
    the fault state. Exits 1 when there is a difference.
    """
    from jackpot.sinks.reconcile import summary
    from jackpot.streams.reconciler import reconcile_and_act

    res = asyncio.run(reconcile_and_act(get_settings(), settle_s=settle_s))
    click.echo(summary(res))
    if not res.ok:
        sys.exit(1)


def _register_optional_commands() -> None:
    """Command groups that live with their subsystems."""
    from jackpot.admin_cli import admin
    from jackpot.bench.cli import bench
    from jackpot.simulation.cli import simulate
    from jackpot.sinks.audit import audit
    from jackpot.sinks.reports import report

    main.add_command(simulate)
    main.add_command(audit)
    main.add_command(report)
    main.add_command(bench)
    main.add_command(admin)


_register_optional_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
