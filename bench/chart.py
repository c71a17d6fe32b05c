"""The latency chart of ``jackpot bench``: offered rate (open loop) against p99 latency, bet to
PoolUpdated and bet to WebSocket frame, from the ``latency_capacity_share`` result."""

from __future__ import annotations

from pathlib import Path

from .harness import Result


def chart_points(result: Result) -> tuple[list[float], list[float | None], list[float | None]]:
    """(offered bets/s, pool p99 ms, WebSocket p99 ms) per rate, in rate order."""
    rates = sorted(result.detail["rates"], key=lambda p: p["offered_bets_s"])
    return ([p["offered_bets_s"] for p in rates], [p.get("pool_p99_ms") for p in rates],
            [p.get("ws_p99_ms") for p in rates])


def latency_chart(result: Result, path: Path | str) -> Path:
    """Write the PNG to ``path``; return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, pool, ws = chart_points(result)
    capacity = result.detail["capacity_bets_s"]
    target = result.detail["target_p99_ms"]
    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        for ys, label, marker in ((pool, "bet → PoolUpdated consumed", "o"), (ws, "bet → WebSocket frame", "s")):
            pts = [(a, b) for a, b in zip(x, ys) if b is not None]
            if pts:
                ax.plot([a for a, _ in pts], [b for _, b in pts], marker=marker, label=f"p99 {label}")
        ax.axhline(target, color="grey", linestyle="--", label=f"target p99 {target:g} ms")
        ax.axvline(capacity, color="tab:red", linestyle=":", label=f"capacity {capacity:,.0f} bets/s (e2e)")
        ax.set_yscale("log")
        ax.set_xlim(0, capacity * 1.05)
        ax.set_xlabel("offered rate, bets/s (open loop, fixed schedule)")
        ax.set_ylabel("p99 latency from scheduled send, ms")
        verdict = (f"WebSocket p99 under {target:g} ms up to {result.value:.0%} of capacity" if result.value > 0
                   else f"no offered rate has a WebSocket p99 under {target:g} ms")
        ax.set_title(f"Latency against load ({result.detail['seconds_per_rate']:g} s per rate): {verdict}",
                     fontsize="medium")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path
