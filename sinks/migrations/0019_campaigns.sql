-- Campaign automation (campaigns/, streams/campaigns.py, gateway/admin/campaigns.py).
-- Every version of every rule as its author saved it; a rule's current version is its highest.
CREATE TABLE campaign_rules (
    rule_id     uuid        NOT NULL,
    version     int         NOT NULL CHECK (version >= 1),
    doc         jsonb       NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted     boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (rule_id, version)
);
-- A manager's approval of one rule version (never its author): fires over the approval
-- threshold need it.
CREATE TABLE campaign_approvals (
    rule_id     uuid        NOT NULL,
    version     int         NOT NULL,
    approved_by text        NOT NULL,
    approved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, version),
    FOREIGN KEY (rule_id, version) REFERENCES campaign_rules (rule_id, version)
);
-- The kill switch (one row) as last set, with who set it.
CREATE TABLE campaign_control (
    name        text        PRIMARY KEY,
    on_         boolean     NOT NULL,
    set_by      text        NOT NULL,
    reason      text        NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
);
-- The campaign-log topic: every fire, decision, dry-run report and delivery, once each
-- (entry_key: what the entry is about; a replay after a crash logs the same key again).
CREATE TABLE campaign_log (
    id          bigserial   PRIMARY KEY,
    entry_key   text        NOT NULL UNIQUE,
    rule_id     text        NOT NULL,
    kind        text        NOT NULL,
    fire_id     text,
    status      text,
    doc         jsonb       NOT NULL,
    logged_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_log_rule ON campaign_log (rule_id, id);
-- The admin API publishes campaign rules (a deletion is a tombstone) and the kill switch through
-- its outbox, in the transaction that records them.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('config', 'command', 'campaign_rule', 'campaign_control'));
ALTER TABLE outbox ALTER COLUMN value DROP NOT NULL;
