-- What the public gateway may ask of the ledger for players (the spec's Jackpot Detail Page):
-- a game's recent play for the "Best Odds" sort, and one player's "My Jackpot Journey". Both are
-- SECURITY DEFINER functions the gateway's read-only role may call: it gets aggregates, one
-- jackpot (and one player) at a time, never a SELECT on the ledger (migration 0011).
CREATE INDEX contributions_jackpot_player ON contributions (jackpot_id, player_id, currency);

CREATE FUNCTION game_odds(p_jackpot text, p_currency text, p_since timestamptz)
RETURNS TABLE (game_id text, bets bigint, avg_bet numeric, players bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT c.game_id, count(*), avg(c.bet_amount), count(DISTINCT c.player_id)
    FROM contributions c
    WHERE c.jackpot_id = p_jackpot AND c.currency = p_currency AND c.bet_ts >= p_since
    GROUP BY c.game_id
$$;

-- One player's journey on one jackpot and currency: what their qualifying bets contributed, how
-- many there were, the time between consecutive bets less than 30 minutes apart (time chasing),
-- their last bet, and their rank by contribution among every player of the jackpot.
CREATE FUNCTION player_journey(p_jackpot text, p_player text, p_currency text)
RETURNS TABLE (contributed numeric, spins bigint, chasing_seconds numeric, first_bet timestamptz,
               last_bet timestamptz, last_bet_amount numeric, rank bigint, players bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    WITH mine AS (
        SELECT c.bet_ts, c.bet_amount, c.gross_amount,
               c.bet_ts - lag(c.bet_ts) OVER (ORDER BY c.bet_ts) AS gap
        FROM contributions c
        WHERE c.jackpot_id = p_jackpot AND c.player_id = p_player AND c.currency = p_currency
    ), total AS (
        SELECT coalesce(sum(gross_amount), 0) AS amount FROM mine
    ), everyone AS (
        SELECT c.player_id, sum(c.gross_amount) AS amount FROM contributions c
        WHERE c.jackpot_id = p_jackpot AND c.currency = p_currency GROUP BY c.player_id
    )
    SELECT (SELECT amount FROM total),
           (SELECT count(*) FROM mine),
           (SELECT coalesce(sum(extract(epoch FROM gap)) FILTER (WHERE gap < interval '30 minutes'), 0) FROM mine),
           (SELECT min(bet_ts) FROM mine),
           (SELECT max(bet_ts) FROM mine),
           (SELECT bet_amount FROM mine ORDER BY bet_ts DESC LIMIT 1),
           (SELECT count(*) + 1 FROM everyone WHERE amount > (SELECT amount FROM total)),
           (SELECT count(*) FROM everyone)
$$;

REVOKE ALL ON FUNCTION game_odds(text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION player_journey(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION game_odds(text, text, timestamptz) TO jackpot_readonly;
GRANT EXECUTE ON FUNCTION player_journey(text, text, text) TO jackpot_readonly;
