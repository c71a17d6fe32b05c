"""How a player id is shown where other people can see it (tickers, reports, campaign previews)."""

from __future__ import annotations

__all__ = ["mask_player"]


def mask_player(player_id: str) -> str:
    """``De***so``: enough to recognise yourself, never enough to identify someone else."""
    s = str(player_id)
    if len(s) <= 6:  # four characters of five or six would all but name the player
        return (s[:1] or "*") + "***"
    return f"{s[:2]}***{s[-2:]}"
