"""Simulation plots as PNG and SVG (spec: Simulation Visualizations). matplotlib, Agg backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jackpot.engine.triggers import REASONS  # noqa: E402

from .core import CYCLE_FIELDS, HOUR_MS, LevelRun  # noqa: E402
from .summary import HEATMAP_REASONS  # noqa: E402

__all__ = ["plot_level", "PLOTS"]

U = 1_000_000
_C = {f: i for i, f in enumerate(CYCLE_FIELDS)}
PLOTS = ("pool_growth", "drop_amounts", "cycle_durations", "monthly_pnl", "condition_heatmap")


def _save(fig, out: Path, stem: str) -> list[Path]:
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=90)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def plot_level(run: LevelRun, out: Path, prefix: str) -> dict[str, list[Path]]:
    out.mkdir(parents=True, exist_ok=True)
    name = f"{run.plan.name} ({run.plan.currency})"
    res: dict[str, list[Path]] = {}
    rows = run.cycles

    # pool growth of representative cycles, hours since cycle start
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, s in enumerate(run.samples):
        if len(s) < 2:
            continue
        t0 = s[0][0]
        xs = [(t - t0) / HOUR_MS for t, _ in s]
        ys = [a / U for _, a in s]
        line, = ax.plot(xs, ys, lw=1.2, label=f"cycle {i + 1}")
        ax.plot(xs[0], ys[0], "o", color=line.get_color(), ms=4)
        if i < len(rows):
            r = rows[i]
            if r[_C["warn_at"]]:
                wx = (r[_C["warn_at"]] - t0) / HOUR_MS
                wy = next((a / U for t, a in s if t >= r[_C["warn_at"]]), ys[-1])
                ax.plot(wx, wy, "^", color=line.get_color(), ms=6)
            ax.plot((r[_C["drop_at"]] - t0) / HOUR_MS, r[_C["win_amount"]] / U, "*", color=line.get_color(), ms=10)
    ax.axhline(run.win_max / U, color="red", ls="--", lw=0.8, label="win_max")
    ax.axhspan(run.win_from / U, run.win_to / U, color="orange", alpha=0.12, label="win range")
    ax.set_xlabel("hours since seed")
    ax.set_ylabel(run.plan.currency)
    ax.set_title(f"Pool growth (displayed amount): {name} (o seed, ^ warn, * drop)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    res["pool_growth"] = _save(fig, out, f"{prefix}pool_growth")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist([r[_C["win_amount"]] / U for r in rows] or [0], bins=40, color="#4a6fa5")
    ax.axvline(run.win_from / U, color="orange", ls="--", lw=0.8)
    ax.axvline(run.win_to / U, color="orange", ls="--", lw=0.8)
    ax.set_title(f"Drop amounts: {name}")
    ax.set_xlabel(run.plan.currency)
    ax.set_ylabel("cycles")
    fig.tight_layout()
    res["drop_amounts"] = _save(fig, out, f"{prefix}drop_amounts")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    durs = [(r[_C["drop_at"]] - r[_C["started_at"]]) / HOUR_MS for r in rows] or [0]
    unit, div = ("days", 24.0) if max(durs) > 72 else ("hours", 1.0)
    ax.hist([d / div for d in durs], bins=40, color="#6a9f58")
    ax.set_title(f"Cycle durations: {name}")
    ax.set_xlabel(unit)
    ax.set_ylabel("cycles")
    fig.tight_layout()
    res["cycle_durations"] = _save(fig, out, f"{prefix}cycle_durations")

    # monthly P&L: revenue (house cut) vs operator cost (seeds + chain prizes), 30-day months
    months: dict[int, list[float]] = {}
    for r in rows:
        mi = int((r[_C["drop_at"]] - run.sim_start) // (720 * HOUR_MS))
        v = months.setdefault(mi, [0.0, 0.0])
        v[0] += r[_C["house_cut"]] / U
        v[1] += (r[_C["seed_draw"]] + r[_C["chain_paid"]]) / U
    ks = sorted(months)[:36]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    xs = list(range(len(ks)))
    ax.bar([x - 0.2 for x in xs], [months[k][0] for k in ks] or [0], width=0.4, label="house cut", color="#3c8d5a")
    ax.bar([x + 0.2 for x in xs], [months[k][1] for k in ks] or [0], width=0.4, label="seeds + chain prizes",
           color="#c0504d")
    ax.set_xticks(xs, [str(k + 1) for k in ks], fontsize=7)
    ax.set_xlabel("month")
    ax.set_ylabel(run.plan.currency)
    ax.set_title(f"Monthly P&L forecast: {name}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    res["monthly_pnl"] = _save(fig, out, f"{prefix}monthly_pnl")

    idx = [REASONS.index(r) for r in HEATMAP_REASONS]
    grid = [[run.fails_by_hour[h][i] for h in range(24)] for i in idx]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    im = ax.imshow(grid, aspect="auto", cmap="YlOrRd")
    ax.set_yticks(range(len(idx)), list(HEATMAP_REASONS), fontsize=7)
    ax.set_xticks(range(24), [str(h) for h in range(24)], fontsize=7)
    ax.set_xlabel("hour of day (UTC)")
    ax.set_title(f"Condition failures by hour: {name}")
    fig.colorbar(im, ax=ax, label="blocked evaluations")
    fig.tight_layout()
    res["condition_heatmap"] = _save(fig, out, f"{prefix}condition_heatmap")
    return res
