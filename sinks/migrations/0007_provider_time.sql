-- Engine-owned time (docs/providers.md): bet_ts is the time the system received the bet (the
-- broker's append time), which drives the engine and partitions the ledger by month. The time the
-- provider's clock claimed is kept beside it for reporting and for finding skewed providers; it is
-- NULL for rows written before this column existed, whose bet_ts is the provider's time.
ALTER TABLE contributions ADD COLUMN provider_ts timestamptz;
