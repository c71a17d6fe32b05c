-- The contribution ledger: one row per bet per jackpot, and its split per level.
-- Money is NUMERIC(20,6): the engine's micro-unit scale, exact.
-- Partitioned by bet time (monthly) because this is the table that grows with every bet;
-- partitions are created by the sink as months appear.

CREATE TABLE contributions (
    event_id        uuid        NOT NULL,
    bet_id          uuid        NOT NULL,
    jackpot_id      text        NOT NULL,
    player_id       text        NOT NULL,
    game_id         text        NOT NULL,
    brand_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    bet_amount      numeric(20,6) NOT NULL CHECK (bet_amount >= 0),
    gross_amount    numeric(20,6) NOT NULL CHECK (gross_amount >= 0),
    house_cut_amount numeric(20,6) NOT NULL CHECK (house_cut_amount >= 0),
    bet_ts          timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, bet_ts)
) PARTITION BY RANGE (bet_ts);

CREATE INDEX contributions_jackpot_ts ON contributions (jackpot_id, bet_ts);
CREATE INDEX contributions_bet ON contributions (bet_id);

CREATE TABLE contribution_levels (
    event_id        uuid        NOT NULL,
    bet_ts          timestamptz NOT NULL,
    jackpot_id      text        NOT NULL,
    level_id        text        NOT NULL,
    currency        char(3)     NOT NULL,
    net_amount      numeric(20,6) NOT NULL CHECK (net_amount >= 0),
    visible_amount  numeric(20,6) NOT NULL CHECK (visible_amount >= 0),
    hidden_amount   numeric(20,6) NOT NULL CHECK (hidden_amount >= 0),
    overflow_amount numeric(20,6) NOT NULL CHECK (overflow_amount >= 0),
    pending_amount  numeric(20,6) NOT NULL CHECK (pending_amount >= 0),
    transfer_in_amount numeric(20,6) NOT NULL CHECK (transfer_in_amount >= 0),
    PRIMARY KEY (event_id, level_id, bet_ts),
    -- a level's own share is fully accounted for; transfers in come from other levels' overflow
    CHECK (net_amount = visible_amount + hidden_amount + overflow_amount + pending_amount)
) PARTITION BY RANGE (bet_ts);

CREATE INDEX contribution_levels_pool ON contribution_levels (jackpot_id, level_id, currency, bet_ts);
