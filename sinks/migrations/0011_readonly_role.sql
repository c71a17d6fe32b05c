-- A role that may only read what the public gateway serves (the public rules document of each
-- jackpot): the gateway logs in as a member of it (e.g. CREATE ROLE jackpot_gateway LOGIN
-- PASSWORD '...' IN ROLE jackpot_readonly), so a compromised gateway pod can neither change a
-- row nor read tokens, the audit trail or the ledger. Roles are cluster-wide: another database
-- of the same server may have created it already (or be creating it right now).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jackpot_readonly') THEN
        CREATE ROLE jackpot_readonly NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO jackpot_readonly;
GRANT SELECT ON jackpot_configs, jackpot_config_versions, admin_jackpots TO jackpot_readonly;
