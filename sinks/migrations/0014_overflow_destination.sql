-- Where each contribution's overflow went (regulatory item 6; ContributionApplied v3): kept in the
-- level's reserve for the next seed, or booked to operator revenue; the rest went to other levels
-- (their transfer_in_amount). NULL for rows written before the engine said.
ALTER TABLE contribution_levels ADD COLUMN overflow_reserve_amount numeric(20,6),
                                ADD COLUMN overflow_revenue_amount numeric(20,6),
    ADD CONSTRAINT contribution_levels_overflow_parts CHECK (
        overflow_reserve_amount IS NULL OR overflow_revenue_amount IS NULL
        OR overflow_reserve_amount + overflow_revenue_amount <= overflow_amount);
