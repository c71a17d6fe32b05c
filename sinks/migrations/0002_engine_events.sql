-- The engine's event record: a raw journal of every engine event (the idempotency gate), and
-- typed tables projected from it for auditors, reports and regulators.
--
-- Money is NUMERIC(20,6) (the engine's micro-unit scale, exact), converted from int micros at
-- the sink. Times are timestamptz, converted from the events' epoch milliseconds.
-- The two tables that grow with traffic (engine_events, pool_snapshots) are partitioned by
-- month on the event time; the sink creates partitions as months appear. Their primary keys
-- include the partition key, which is safe: an event's time is derived from its cause, so a
-- replayed event carries the same (event_id, time).

-- ---------------------------------------------------------------- configuration
CREATE TABLE jackpot_configs (
    jackpot_id      text        PRIMARY KEY,
    name            text        NOT NULL,
    current_version int         NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jackpot_config_versions (
    jackpot_id      text        NOT NULL REFERENCES jackpot_configs (jackpot_id),
    version         int         NOT NULL CHECK (version > 0),
    config_hash     char(64)    NOT NULL,   -- sha256 of the canonical JSON document
    fingerprint     text,                   -- the engine's compiled fingerprint, when known
    status          text        NOT NULL,
    config          jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (jackpot_id, version),
    UNIQUE (jackpot_id, config_hash)
);

-- ---------------------------------------------------------------- raw journal
CREATE TABLE engine_events (
    event_id        uuid        NOT NULL,
    event_ts        timestamptz NOT NULL,
    event_type      text        NOT NULL,
    event_version   int         NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text,
    currency        char(3),
    payload         jsonb       NOT NULL,   -- as published: money int micros, times epoch ms
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_ts)
) PARTITION BY RANGE (event_ts);

CREATE INDEX engine_events_jackpot ON engine_events (jackpot_id, event_type, event_ts);

-- ---------------------------------------------------------------- pools
CREATE TABLE pool_snapshots (
    event_id        uuid        NOT NULL,
    snapshot_ts     timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    cycle_number    int,
    current_amount  numeric(20,6) NOT NULL,
    visible_amount  numeric(20,6) NOT NULL,
    display_state   text        NOT NULL,
    sequence        bigint,
    PRIMARY KEY (event_id, snapshot_ts)
) PARTITION BY RANGE (snapshot_ts);

CREATE INDEX pool_snapshots_pool ON pool_snapshots (jackpot_id, level_id, currency, snapshot_ts DESC);

-- ---------------------------------------------------------------- cycles
-- One row per pool cycle. The win target and the seed are filled only by CycleRevealed,
-- after the drop: the target is never stored before it can be revealed.
CREATE TABLE cycles (
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    cycle_number    int         NOT NULL,
    commitment      char(64),
    seed_amount     numeric(20,6),          -- reset amount (seed draw + carried reserve + pre-seed)
    seed_draw       numeric(20,6),          -- operator-funded random part
    carry_in        numeric(20,6),
    started_at      timestamptz,
    started_event_id uuid,
    revealed_seed   char(64),
    win_target      numeric(20,6),          -- as drawn at cycle start
    final_win_target numeric(20,6),         -- after cancel-drop redraws
    warn_threshold  numeric(20,6),
    fire_threshold  numeric(20,6),
    evaluation_delay int,
    ranges          jsonb,
    retargets       jsonb,
    drops           int,
    revealed_at     timestamptz,
    revealed_event_id uuid,
    PRIMARY KEY (jackpot_id, level_id, currency, cycle_number)
);

CREATE TABLE reseeds (
    event_id        uuid        PRIMARY KEY,
    reseeded_at     timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    cycle_number    int         NOT NULL,
    new_seed_amount numeric(20,6) NOT NULL,
    commitment      char(64)
);
CREATE INDEX reseeds_pool ON reseeds (jackpot_id, level_id, currency, reseeded_at);

-- ---------------------------------------------------------------- wins and prizes
-- A win (one drop) from its selection to its end; status only moves forward
-- (selected -> won -> voided), so a replayed older event cannot move it back.
CREATE TABLE wins (
    win_id          text        PRIMARY KEY,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    cycle_number    int         NOT NULL,
    drop_number     int,
    drop_kind       text,
    selection_method text,
    distribution_mode int,
    trigger_bet_id  text,
    win_amount      numeric(20,6) NOT NULL,
    winner_player_id text,
    winner_game_id  text,
    winner_brand_id text,
    returned_amount numeric(20,6),
    status          text        NOT NULL,
    status_rank     int         NOT NULL,
    dropped_at      timestamptz,
    won_at          timestamptz,
    voided_at       timestamptz,
    void_reason     text,
    selected_event_id uuid
);
CREATE INDEX wins_jackpot ON wins (jackpot_id, level_id, currency, dropped_at);

-- The regulatory hit record (items 2-3): the pool was debited by this amount.
CREATE TABLE hits (
    event_id        uuid        PRIMARY KEY,
    hit_at          timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    cycle_number    int         NOT NULL,
    win_amount      numeric(20,6) NOT NULL,
    winner_player_id text       NOT NULL,
    winner_game_id  text,
    winner_brand_id text,
    trigger_bet_id  text
);
CREATE INDEX hits_pool ON hits (jackpot_id, level_id, currency, hit_at DESC);

-- Every prize of a win (main and chain reaction) and its payout state.
CREATE TABLE prizes (
    win_id          text        NOT NULL,
    kind            text        NOT NULL,   -- main | chain_reaction
    rank            int         NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    player_id       text        NOT NULL,
    brand_id        text,
    game_id         text,
    amount          numeric(20,6) NOT NULL,
    tax_amount      numeric(20,6),
    net_amount      numeric(20,6),
    idempotency_key text,
    payout_status   text,
    payout_attempt  int,
    status_at       timestamptz,
    status_event_id uuid,
    PRIMARY KEY (win_id, kind, rank)
);
CREATE UNIQUE INDEX prizes_idempotency_key ON prizes (idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE prize_payout_events (
    event_id        uuid        PRIMARY KEY,
    changed_at      timestamptz NOT NULL,
    win_id          text        NOT NULL,
    kind            text        NOT NULL,
    rank            int         NOT NULL,
    player_id       text,
    idempotency_key text,
    status          text        NOT NULL,
    attempt         int
);
CREATE INDEX prize_payout_events_win ON prize_payout_events (win_id, changed_at);

-- ---------------------------------------------------------------- state changes
CREATE TABLE warn_state_changes (
    event_id        uuid        PRIMARY KEY,
    changed_at      timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    cycle_number    int,
    kind            text        NOT NULL,   -- state (WarnStateChanged) | threshold (WarnThresholdReached)
    old_state       text,
    new_state       text,
    current_amount  numeric(20,6)
);
CREATE INDEX warn_state_changes_pool ON warn_state_changes (jackpot_id, level_id, currency, changed_at DESC);

CREATE TABLE jackpot_state_changes (
    event_id        uuid        PRIMARY KEY,
    changed_at      timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text,
    old_state       text,
    new_state       text        NOT NULL,
    changed_by      text,
    reason          text
);
CREATE INDEX jackpot_state_changes_jackpot ON jackpot_state_changes (jackpot_id, changed_at DESC);

-- ---------------------------------------------------------------- operators
CREATE TABLE pool_adjustments (
    event_id        uuid        PRIMARY KEY,
    adjusted_at     timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    cycle_number    int,
    amount          numeric(20,6) NOT NULL,  -- signed: + into the pool, - out of it
    reason          text        NOT NULL,    -- reason code (PRE_SEED, OPERATOR_FUNDING, TRANSFER...)
    actor           text        NOT NULL,
    note            text,
    visible_amount  numeric(20,6)
);
CREATE INDEX pool_adjustments_pool ON pool_adjustments (jackpot_id, currency, adjusted_at);

CREATE TABLE operator_actions (
    event_id        uuid        PRIMARY KEY,
    acted_at        timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    command_id      text        NOT NULL,
    action          text        NOT NULL,
    actor           text        NOT NULL,
    approvals       text[]      NOT NULL DEFAULT '{}',
    reason          text,
    level_id        text,
    currency        char(3),
    amount          numeric(20,6),
    adjustment_reason text,
    target_level_id text,
    delay_seconds   int,
    win_id          text,
    outcome         text        NOT NULL,   -- applied | rejected
    detail          text
);
CREATE INDEX operator_actions_jackpot ON operator_actions (jackpot_id, acted_at DESC);

CREATE TABLE win_approvals (
    approval_id     text        PRIMARY KEY,
    win_id          text        NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    kind            text,
    rank            int,
    player_id       text        NOT NULL,
    amount          numeric(20,6) NOT NULL,
    threshold       numeric(20,6),
    requested_at    timestamptz NOT NULL,
    expires_at      timestamptz,
    decision        text,                   -- approved | declined | expired (set once)
    decided_by      text,
    decision_reason text,
    decided_at      timestamptz,
    escalations     int         NOT NULL DEFAULT 0
);

CREATE TABLE win_approval_events (
    event_id        uuid        PRIMARY KEY,
    at              timestamptz NOT NULL,
    approval_id     text,
    win_id          text,
    event_type      text        NOT NULL,
    actor           text,
    decision        text,
    payload         jsonb       NOT NULL
);

-- ---------------------------------------------------------------- alerts
CREATE TABLE alerts (
    event_id        uuid        PRIMARY KEY,
    raised_at       timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    alert_type      text        NOT NULL,
    level_id        text,
    currency        char(3),
    detail          jsonb       NOT NULL
);
CREATE INDEX alerts_recent ON alerts (raised_at DESC);
