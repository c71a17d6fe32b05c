-- Paid wins taken back in the operator's wallet and reversed into their pool (engine/reversal.py):
-- one row per win; the win's status becomes 'reversed'. Prizes paid and the won meter read from
-- the ledger subtract them (sinks/reports.py, sinks/reconcile.py).
CREATE TABLE win_reversals (
    win_id          text        PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    reversed_at     timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    amount          numeric(20,6) NOT NULL CHECK (amount > 0),
    reason          text        NOT NULL,
    actor           text        NOT NULL,
    approvals       text[]      NOT NULL DEFAULT '{}'
);
CREATE INDEX win_reversals_pool ON win_reversals (jackpot_id, level_id, currency);
