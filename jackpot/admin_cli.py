"""``jackpot admin``: run the admin API and manage its bearer tokens.

Tokens are created and revoked here, on a machine with database access, never through the API
itself: the secret is printed once and only its hash is stored. A token is issued to a person;
an identity-provider login is enrolled to a person here too (``identity link``), so that one
human is one person to four-eyes whichever credential they use. Every change is written to
the audit trail with the CLI's actor (``cli:<OS user>`` unless given).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
import os

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


def default_cli_actor() -> str:
    """``cli:<OS user name>``: who ran the command, for the audit trail."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid-{os.getuid()}"
    return f"cli:{user}"


def _cli_principal(actor: str):
    from jackpot.gateway.admin.rbac import Principal, Role

    if not actor.strip():
        raise click.UsageError("--actor must not be empty")
    return Principal(token_id="cli", actor=actor.strip(), role=Role.ADMIN, all_brands=True)


async def _with_store(fn):
    import asyncpg

    from jackpot.gateway.admin.tokens import TokenStore
    from jackpot.gateway.admin.trail import Trail
    from jackpot.sinks.audit import require_key
    from jackpot.sinks.migrate import migrate

    s = get_settings()
    key = require_key(s)  # these commands append to the audit chain: refuse a weak key in production
    await migrate(s.database_url)
    pool = await asyncpg.create_pool(s.database_url, min_size=1, max_size=2)
    try:
        return await fn(TokenStore(pool, trail=Trail(pool, key)))
    finally:
        await pool.close()


@token.command("create")
@click.option("--actor", "--person", "actor", required=True,
              help="The person the token is issued to (their canonical id: one per human, lower case).")
@click.option("--role", required=True, type=click.Choice(["viewer", "operator", "manager", "admin", "custom"]))
@click.option("--brand", "brands", multiple=True, help="A brand this token may see and act on (repeat).")
@click.option("--all-brands", is_flag=True, help="Cross-brand access (meant for Admins).")
@click.option("--permission", "permissions", multiple=True, help="Custom role: a permission (repeat).")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None)
@click.option("--note", default=None)
@click.option("--created-by", default=default_cli_actor, show_default="cli:<OS user>",
              help="Who issues the token, for the audit trail.")
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
                                  permissions=perms, created_by=created_by, expires_at=expires, note=note,
                                  by=_cli_principal(created_by))

    try:
        issued = asyncio.run(_with_store(run))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps({"token_id": issued.token_id, "token": issued.secret, "actor": issued.principal.actor,
                           "role": role,
                           "brands": sorted(brands), "all_brands": all_brands,
                           "expires_at": expires.isoformat() if expires else None}))


@token.command("revoke")
@click.argument("token_id")
@click.option("--revoked-by", "--actor", "revoked_by", default=default_cli_actor, show_default="cli:<OS user>",
              help="Who revokes it, for the audit trail.")
@click.option("--reason", default=None)
def token_revoke(token_id: str, revoked_by: str, reason: str | None) -> None:
    """Revoke a token by its id (effective on the next request)."""
    by = _cli_principal(revoked_by)
    done = asyncio.run(_with_store(lambda store: store.revoke(token_id, revoked_by=revoked_by, by=by, reason=reason)))
    if not done:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"revoked {token_id}")


@token.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    rows = asyncio.run(_with_store(lambda store: store.list()))
    for r in rows:
        click.echo(json.dumps(r, default=str))


@admin.group("identity")
def identity() -> None:
    """Enrol identity-provider logins (JWT issuer + subject) to persons."""


def _issuer(issuer: str | None) -> str:
    issuer = issuer or get_settings().admin_jwt_issuer
    if not issuer:
        raise click.UsageError("give --issuer (JACKPOT_ADMIN_JWT_ISSUER is not set)")
    return issuer


@identity.command("link")
@click.option("--subject", required=True, help="The JWT's sub claim, as the identity provider issues it.")
@click.option("--person", required=True, help="The person it is (the same id as their CLI tokens' actor).")
@click.option("--issuer", default=None, help="default: JACKPOT_ADMIN_JWT_ISSUER")
@click.option("--actor", default=default_cli_actor, show_default="cli:<OS user>",
              help="Who enrols it, for the audit trail.")
def identity_link(subject: str, person: str, issuer: str | None, actor: str) -> None:
    """Enrol an IdP identity as a person; until then the API refuses its JWTs."""
    by, iss = _cli_principal(actor), _issuer(issuer)
    try:
        res = asyncio.run(_with_store(lambda store: store.link(issuer=iss, subject=subject, person=person, by=by)))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps(res))


@identity.command("unlink")
@click.option("--subject", required=True)
@click.option("--issuer", default=None, help="default: JACKPOT_ADMIN_JWT_ISSUER")
@click.option("--actor", default=default_cli_actor, show_default="cli:<OS user>",
              help="Who removes it, for the audit trail.")
def identity_unlink(subject: str, issuer: str | None, actor: str) -> None:
    """Remove an enrolment: that identity's JWTs are refused from the next request."""
    by, iss = _cli_principal(actor), _issuer(issuer)
    if not asyncio.run(_with_store(lambda store: store.unlink(issuer=iss, subject=subject, by=by))):
        raise click.ClickException(f"no enrolment of {subject} at {iss}")
    click.echo(f"unlinked {subject}")


@identity.command("list")
def identity_list() -> None:
    """List enrolled identities."""
    for r in asyncio.run(_with_store(lambda store: store.identities())):
        click.echo(json.dumps(r, default=str))


if __name__ == "__main__":  # pragma: no cover  (``python -m jackpot.admin_cli``, before it is registered)
    admin()
