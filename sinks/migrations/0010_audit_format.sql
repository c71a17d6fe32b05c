-- The audit chain's hash format, per record.
--
-- Format 1 hashed the fields joined with "|", which is ambiguous ("a|b" + "c" hashes like
-- "a" + "b|c"). Format 2 hashes each field as its byte length and its bytes (sinks/audit.py).
-- Records written before this migration stay format 1 and keep verifying as they are; every
-- new record is format 2, and `jackpot audit verify` refuses a format 1 record after a format 2
-- one (a downgrade). Adding a column with a constant default rewrites no row, so the
-- append-only triggers are not involved.

ALTER TABLE audit_log ADD COLUMN format smallint NOT NULL DEFAULT 1 CHECK (format IN (1, 2));
