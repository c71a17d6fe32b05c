"""Campaign automation: IF a jackpot event AND conditions THEN marketing actions, safely.

Pure logic only (no I/O), in the order a fire is decided:

- ``rules``: what an operator configures (trigger, conditions, actions), validated;
- ``signals``: the engine's public events read as campaign signals;
- ``contacts``: what each player has already been sent (rate limit, cooldown);
- ``plan``: whether a rule fires on a signal, and the exact actions a fire sends, each with a
  deterministic id so that a replay after a crash produces the same ids (sent once).
"""
