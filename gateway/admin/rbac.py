"""Roles, permissions and brand scope (spec: "RBAC & System Controls").

Each role holds the permissions of the role before it plus its own:

- Viewer:   dashboard, monitor, reports. No configuration or actions.
- Operator: + pause/resume, approve/decline wins, manage content.
- Manager:  + create/edit jackpots, configure games/eligibility, force/delay/cancel drops, templates.
- Admin:    + no-win mode, manual adjustments, void wins (with a second Admin's co-approval),
            system controls, RBAC, the audit trail.
- Custom:   exactly the permissions listed on the token.

Brand scope: a principal sees and touches only jackpots whose brands are all among its own
brands; a token created with ``all_brands`` (meant for Admins) has cross-brand access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    MANAGER = "manager"
    ADMIN = "admin"
    CUSTOM = "custom"


class Permission(StrEnum):
    # Viewer
    DASHBOARD_READ = "dashboard:read"
    MONITOR_READ = "monitor:read"
    REPORTS_READ = "reports:read"
    # Operator
    PAUSE_RESUME = "jackpot:pause"
    APPROVALS_DECIDE = "approvals:decide"
    CONTENT_MANAGE = "content:manage"
    CAMPAIGNS_EDIT = "campaigns:edit"  # write campaign rules, throw the kill switch
    # Manager
    JACKPOT_CONFIGURE = "jackpot:configure"
    DROP_CONTROL = "drop:control"
    TEMPLATES_MANAGE = "templates:manage"
    SIMULATION_RUN = "simulation:run"
    CAMPAIGNS_APPROVE = "campaigns:approve"  # approve rule versions for large audiences, lift the kill switch
    # Admin
    NO_WIN_MODE = "no-win:manage"
    MANUAL_ADJUST = "pool:adjust"
    VOID_WIN = "win:void"
    PAYOUT_RESOLVE = "payout:resolve"
    FAULT_CLEAR = "fault:clear"
    SYSTEM_CONTROL = "system:control"
    RBAC_MANAGE = "rbac:manage"
    AUDIT_READ = "audit:read"


_VIEWER = frozenset({Permission.DASHBOARD_READ, Permission.MONITOR_READ, Permission.REPORTS_READ})
_OPERATOR = _VIEWER | {Permission.PAUSE_RESUME, Permission.APPROVALS_DECIDE, Permission.CONTENT_MANAGE,
                       Permission.CAMPAIGNS_EDIT}
_MANAGER = _OPERATOR | {Permission.JACKPOT_CONFIGURE, Permission.DROP_CONTROL, Permission.TEMPLATES_MANAGE,
                        Permission.SIMULATION_RUN, Permission.CAMPAIGNS_APPROVE}
_ADMIN = _MANAGER | {Permission.NO_WIN_MODE, Permission.MANUAL_ADJUST, Permission.VOID_WIN,
                     Permission.PAYOUT_RESOLVE, Permission.FAULT_CLEAR,
                     Permission.SYSTEM_CONTROL, Permission.RBAC_MANAGE, Permission.AUDIT_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.MANAGER: frozenset(_MANAGER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.CUSTOM: frozenset(),
}


PERSON_RE = re.compile(r"^[a-z0-9][a-z0-9._@+:-]{0,127}$")


def person_id(value: str) -> str:
    """The canonical form of a person id (trimmed, lower case), so that "Alice" and "alice " are
    one person to four-eyes; refused (ValueError) when it is not a plain identifier."""
    canonical = value.strip().lower()
    if not PERSON_RE.match(canonical):
        raise ValueError(f"a person id is 1-128 characters of a-z 0-9 . _ @ + : - (got {value!r})")
    return canonical


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from a bearer token.

    ``actor`` is the canonical person (one per human, whichever credential they use): every
    comparison of people (four-eyes, self-revoke, idempotency) uses it. ``token_id`` names the
    credential the call came with, for the audit trail: a CLI token's id, or
    ``jwt:<issuer>#<subject>`` for an identity-provider token.
    """

    token_id: str
    actor: str
    role: Role
    brands: frozenset[str] = frozenset()
    all_brands: bool = False
    custom_permissions: frozenset[Permission] = field(default_factory=frozenset)

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.role == Role.CUSTOM:
            return self.custom_permissions
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def in_scope(self, brands: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> bool:
        """True when every brand of a jackpot is within this principal's brands."""
        if self.all_brands:
            return True
        return bool(brands) and set(brands) <= self.brands

    @property
    def credential(self) -> str:
        return self.token_id

    def covers(self, brands: list[str] | tuple[str, ...] | frozenset[str] | None, all_brands: bool) -> bool:
        """True when this principal's scope includes the whole scope given (another principal's)."""
        if self.all_brands:
            return True
        return not all_brands and brands is not None and set(brands) <= self.brands

    def brand_label(self) -> str:
        return "*" if self.all_brands else ",".join(sorted(self.brands))
