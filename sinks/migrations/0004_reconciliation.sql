-- Reconciliation runs: the ledger against the live jackpot table, per jackpot, level and
-- currency. Every run is kept (with its differences), so an auditor can see when the
-- ledger and the table agreed and what differed when they did not.

CREATE TABLE reconciliation_runs (
    run_id          uuid        PRIMARY KEY,
    ran_at          timestamptz NOT NULL,
    status          text        NOT NULL CHECK (status IN ('ok', 'mismatch', 'ledger_behind')),
    jackpots        int         NOT NULL,
    pools           int         NOT NULL,
    differences     int         NOT NULL,
    result          jsonb       NOT NULL
);
CREATE INDEX reconciliation_runs_recent ON reconciliation_runs (ran_at DESC);

CREATE TABLE reconciliation_differences (
    run_id          uuid        NOT NULL REFERENCES reconciliation_runs (run_id),
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,   -- '' for per-currency totals
    currency        char(3)     NOT NULL,
    metric          text        NOT NULL,
    ledger_amount   numeric(20,6) NOT NULL,
    table_amount    numeric(20,6) NOT NULL,
    difference      numeric(20,6) NOT NULL,
    PRIMARY KEY (run_id, jackpot_id, level_id, currency, metric)
);
