"""``jackpot admin``: run the admin API and manage its bearer tokens.

Tokens are created and revoked here, on a machine with database access, never through the API
itself: the secret is printed once and only its hash is stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import click

from jackpot.settings import get_settings


@click.group("admin")
def admin() -> None:
    """The operator admin API and its access tokens."""


@admin.command("serve")
@click.option("--port", type=int, default=None, help="default: JACKPOT_ADMIN_PORT (8785)")
@click.option("--host", default=None, help="default: JACKPOT_ADMIN_HOST (127.0.0.1)")
def serve(port: int | None, host: str | None) -> None:
    """Run the admin HTTP API (applies pending migrations first)."""
    from aiohttp import web

    from jackpot.gateway.admin.app import create_admin_app
    from jackpot.sinks.migrate import migrate

    s = get_settings()
    asyncio.run(migrate(s.database_url))
    web.run_app(create_admin_app(s), host=host or s.admin_host, port=port or s.admin_port, print=None)


@admin.command("openapi")
def openapi() -> None:
    """Print the OpenAPI document (the same one the server serves at /openapi.json)."""
    from jackpot.gateway.admin.app import openapi_document

    click.echo(json.dumps(openapi_document(), indent=2))


@admin.group("token")
def token() -> None:
    """Create, revoke and list bearer tokens."""


async def _with_store(fn):
    import asyncpg

    from jackpot.gateway.admin.tokens import TokenStore
    from jackpot.sinks.migrate import migrate

    s = get_settings()
    await migrate(s.database_url)
    pool = await asyncpg.create_pool(s.database_url, min_size=1, max_size=2)
    try:
        return await fn(TokenStore(pool))
    finally:
        await pool.close()


@token.command("create")
@click.option("--actor", required=True, help="The operator's id, as it will appear in the audit trail.")
@click.option("--role", required=True, type=click.Choice(["viewer", "operator", "manager", "admin", "custom"]))
@click.option("--brand", "brands", multiple=True, help="A brand this token may see and act on (repeat).")
@click.option("--all-brands", is_flag=True, help="Cross-brand access (meant for Admins).")
@click.option("--permission", "permissions", multiple=True, help="Custom role: a permission (repeat).")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None)
@click.option("--note", default=None)
@click.option("--created-by", default="cli", show_default=True)
def token_create(actor: str, role: str, brands: tuple[str, ...], all_brands: bool, permissions: tuple[str, ...],
                 expires_in_days: int | None, note: str | None, created_by: str) -> None:
    """Create a token; the secret is printed once (store it in the operator's vault)."""
    from jackpot.gateway.admin.rbac import Permission, Role

    try:
        perms = [Permission(p) for p in permissions]
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; permissions: {', '.join(p.value for p in Permission)}") from None
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=expires_in_days)) if expires_in_days else None

    async def run(store):
        return await store.create(actor=actor, role=Role(role), brands=list(brands), all_brands=all_brands,
                                  permissions=perms, created_by=created_by, expires_at=expires, note=note)

    try:
        issued = asyncio.run(_with_store(run))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps({"token_id": issued.token_id, "token": issued.secret, "actor": actor, "role": role,
                           "brands": sorted(brands), "all_brands": all_brands,
                           "expires_at": expires.isoformat() if expires else None}))


@token.command("revoke")
@click.argument("token_id")
@click.option("--revoked-by", default="cli", show_default=True)
def token_revoke(token_id: str, revoked_by: str) -> None:
    """Revoke a token by its id (effective on the next request)."""
    done = asyncio.run(_with_store(lambda store: store.revoke(token_id, revoked_by=revoked_by)))
    if not done:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"revoked {token_id}")


@token.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    rows = asyncio.run(_with_store(lambda store: store.list()))
    for r in rows:
        click.echo(json.dumps(r, default=str))


if __name__ == "__main__":  # pragma: no cover  (``python -m jackpot.admin_cli``, before it is registered)
    admin()
