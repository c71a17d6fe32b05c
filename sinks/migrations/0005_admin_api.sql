-- The admin API's own records: bearer tokens (hashed), the Back Office record of every jackpot
-- (wizard drafts, lifecycle, presentation), pending configuration changes with their apply
-- timing, idempotency keys of mutating calls, and four-eyes requests awaiting a second Admin.
-- Validated configuration versions themselves live in jackpot_configs / jackpot_config_versions.

CREATE TABLE admin_tokens (
    token_id        uuid        PRIMARY KEY,
    token_hash      char(64)    NOT NULL UNIQUE,    -- sha256 of the secret; the secret is never stored
    actor           text        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('viewer', 'operator', 'manager', 'admin', 'custom')),
    brands          text[]      NOT NULL DEFAULT '{}',
    all_brands      boolean     NOT NULL DEFAULT false,
    permissions     text[]      NOT NULL DEFAULT '{}',   -- custom role only
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text        NOT NULL,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    revoked_by      text,
    last_used_at    timestamptz
);
CREATE INDEX admin_tokens_actor ON admin_tokens (actor);

CREATE TABLE admin_jackpots (
    jackpot_id      text        PRIMARY KEY,
    name            text        NOT NULL,
    type            text,
    brands          text[]      NOT NULL,
    status          text        NOT NULL CHECK (status IN ('DRAFT', 'SCHEDULED', 'ACTIVE', 'PAUSED', 'ARCHIVED')),
    steps           jsonb       NOT NULL,   -- wizard data by step (identity, levels, games, ...)
    presentation    jsonb       NOT NULL DEFAULT '{}',   -- theme and multi-language content
    template        text,
    cloned_from     text,
    activate_at     timestamptz,
    published_version int,
    revision        int         NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text        NOT NULL
);
CREATE INDEX admin_jackpots_status ON admin_jackpots (status);
CREATE INDEX admin_jackpots_brands ON admin_jackpots USING gin (brands);

CREATE TABLE admin_templates (
    name            text        PRIMARY KEY,
    steps           jsonb       NOT NULL,
    presentation    jsonb       NOT NULL DEFAULT '{}',
    brands          text[]      NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text        NOT NULL
);

CREATE TABLE admin_config_changes (
    change_id       uuid        PRIMARY KEY,
    jackpot_id      text        NOT NULL REFERENCES admin_jackpots (jackpot_id),
    apply_timing    text        NOT NULL CHECK (apply_timing IN ('immediately', 'next_cycle', 'scheduled', 'activation')),
    apply_at        timestamptz,
    state           text        NOT NULL CHECK (state IN ('pending', 'applied', 'cancelled', 'failed')),
    config          jsonb       NOT NULL,
    warnings        jsonb       NOT NULL DEFAULT '[]',
    reason          text,
    version         int,
    detail          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text        NOT NULL,
    applied_at      timestamptz
);
CREATE INDEX admin_config_changes_due ON admin_config_changes (state, apply_at);
CREATE INDEX admin_config_changes_jackpot ON admin_config_changes (jackpot_id, created_at DESC);

CREATE TABLE admin_idempotency (
    actor           text        NOT NULL,
    idempotency_key text        NOT NULL,
    method          text        NOT NULL,
    path            text        NOT NULL,
    body_hash       char(64)    NOT NULL,
    status          int,                    -- NULL while the first request is still running
    response        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, idempotency_key)
);

CREATE TABLE admin_co_approvals (
    request_id      uuid        PRIMARY KEY,
    action          text        NOT NULL,   -- void_win | emergency_shutdown
    jackpot_id      text,
    brands          text[]      NOT NULL DEFAULT '{}',
    payload         jsonb       NOT NULL,
    reason          text        NOT NULL,
    initiated_by    text        NOT NULL,
    initiated_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    state           text        NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired')),
    decided_by      text,
    decided_at      timestamptz,
    decision_reason text,
    command_id      text,
    CHECK (decided_by IS NULL OR decided_by <> initiated_by)
);
CREATE INDEX admin_co_approvals_pending ON admin_co_approvals (state, initiated_at);

CREATE TABLE admin_system_state (
    id              int         PRIMARY KEY CHECK (id = 1),
    mode            text        NOT NULL CHECK (mode IN ('running', 'paused', 'shutdown')),
    changed_at      timestamptz NOT NULL DEFAULT now(),
    changed_by      text        NOT NULL,
    reason          text
);
INSERT INTO admin_system_state (id, mode, changed_by, reason) VALUES (1, 'running', 'system', 'initial');
