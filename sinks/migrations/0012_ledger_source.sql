-- Where each ledger row's bet is on the bets topic (partition, offset). A jackpot's table value
-- marks the highest bets offset it applied per partition, so a reconciliation can compare the
-- ledger with a table value at the same cut instead of a ledger that runs ahead of it under load
-- (sinks/reconcile.py). NULL for rows written before the engine recorded it.
ALTER TABLE contributions ADD COLUMN source_partition int, ADD COLUMN source_offset bigint;
ALTER TABLE contribution_levels ADD COLUMN source_partition int, ADD COLUMN source_offset bigint;
