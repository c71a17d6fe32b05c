-- Network jackpots pool bets of other currencies at configured rates (ContributionApplied v4):
-- a row's currency and amounts are the pool currency's; these keep the bet as the player made
-- it and the exact rate used. NULL for a bet in the pool currency, and for rows from before.
ALTER TABLE contributions ADD COLUMN bet_currency char(3),
                          ADD COLUMN original_bet_amount numeric(20,6),
                          ADD COLUMN fx_rate numeric(30,12),
    ADD CONSTRAINT contributions_fx CHECK ((bet_currency IS NULL) = (fx_rate IS NULL));
