"""The operator admin API: a separate aiohttp app on its own port (``jackpot admin serve``).

Every Back Office action is an authenticated, authorised, validated and audited HTTP call;
actions that change a running jackpot become commands on the jackpot's partition, so they
are applied in order with the bets.
"""
