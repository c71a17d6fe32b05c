-- One owner of jackpot identity: every published configuration version records who published
-- it, and every record bound for Kafka (configurations, operator commands) is first committed
-- in an outbox together with its version / command row and its audit entry. A relay sends the
-- rows left unsent, in id order, so nothing reaches Kafka without its committed audit entry and
-- nothing committed is lost while the broker is down.

ALTER TABLE jackpot_config_versions ADD COLUMN actor text;

CREATE TABLE outbox (
    id              bigserial   PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('config', 'command')),
    ref             text        NOT NULL,   -- jackpot id (config) or command id (command)
    topic           text        NOT NULL,   -- the full topic name, prefix included
    key             bytea       NOT NULL,
    value           bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
