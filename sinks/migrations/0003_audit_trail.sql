-- The audit trail: append-only and hash-chained.
--
-- Each record's hash covers its own fields and the previous record's hash, so changing,
-- removing or inserting a record breaks the chain from that point on; ``audit_head`` holds
-- the last sequence number and hash (a removed tail shows as a head that points past the
-- last row). Appenders serialise on the single head row (SELECT ... FOR UPDATE), which makes
-- the order of the chain well defined when several workers append at once.
-- UPDATE, DELETE and TRUNCATE are refused by triggers; a superuser can still bypass them,
-- which is what ``jackpot audit verify`` is there to detect.

CREATE TABLE audit_log (
    seq             bigint      PRIMARY KEY CHECK (seq > 0),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    jackpot_id      text        NOT NULL,
    actor           text        NOT NULL,
    occurred_ms     bigint      NOT NULL,   -- epoch ms, hashed as is
    occurred_at     timestamptz NOT NULL,   -- the same instant, for queries
    body            text        NOT NULL,   -- canonical JSON (sorted keys), hashed as is
    prev_hash       char(64)    NOT NULL,
    hash            char(64)    NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_jackpot ON audit_log (jackpot_id, occurred_at);

CREATE TABLE audit_head (
    id              int         PRIMARY KEY CHECK (id = 1),
    seq             bigint      NOT NULL,
    hash            char(64)    NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
