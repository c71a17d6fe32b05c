"""Fraud detection: the six patterns of the intelligence layer, as windowed detectors.

Pure logic only (no I/O): the stream process feeds it sessions, bets and wins and publishes
what it returns.  The system flags; it never adjusts a jackpot or acts on a player by itself.

- ``signals``: what a detector sees (a session, a qualifying bet, a win), in integer micros
  and epoch milliseconds;
- ``thresholds``: every limit a detector applies, one frozen object (operators' settings);
- ``alerts``: the ``FraudAlert`` a detector raises, with its evidence and a deterministic id;
- ``detectors``: one class per pattern, each with bounded per-key state;
- ``engine``: all six behind one interface, with a cooldown per pattern and subject;
- ``population``: a labelled synthetic population (honest players and fraudsters of each
  pattern) to measure recall and false alerts.
"""
