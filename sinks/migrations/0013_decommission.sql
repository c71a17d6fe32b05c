-- Decommissioning (regulatory item 9). When a jackpot is decommissioned its hidden and carried
-- reserve joins the prize of its last drop instead of being stranded: one row per release, so
-- the reserve meter read from the ledger (contributions' hidden parts, minus what seeds carried,
-- minus what was released) stays equal to the engine's.
CREATE TABLE reserve_releases (
    event_id        uuid        PRIMARY KEY,
    released_at     timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    cycle_number    int,
    amount          numeric(20,6) NOT NULL CHECK (amount > 0),
    hidden_amount   numeric(20,6) NOT NULL,
    carry_amount    numeric(20,6) NOT NULL,
    pending_amount  numeric(20,6) NOT NULL,
    reason          text        NOT NULL,
    CHECK (amount = hidden_amount + carry_amount + pending_amount)
);
CREATE INDEX reserve_releases_pool ON reserve_releases (jackpot_id, level_id, currency);

-- The back office follows an archive that completes after the last decommissioning win is paid:
-- a pending 'archive' change is applied once the engine reports the jackpot ARCHIVED.
ALTER TABLE admin_config_changes DROP CONSTRAINT admin_config_changes_apply_timing_check;
ALTER TABLE admin_config_changes ADD CONSTRAINT admin_config_changes_apply_timing_check
    CHECK (apply_timing IN ('immediately', 'next_cycle', 'scheduled', 'activation', 'archive'));
