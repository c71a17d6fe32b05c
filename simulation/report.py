"""Write a simulation's results: results.json, the plots (PNG + SVG) and report.html."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .core import LevelRun
from .plots import plot_level
from .summary import comparison, level_summary

__all__ = ["Scenario", "write_report"]


class Scenario:
    """One configuration's runs (a what-if column)."""

    def __init__(self, name: str, runs: list[LevelRun], meta: dict[str, Any] | None = None):
        self.name = name
        self.runs = runs
        self.meta = meta or {}
        self.summaries = [level_summary(r, float(self.meta.get("pre_seed", 0) or 0)) for r in runs]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 1 else f"{v:,.2f}"
    return html.escape(str(v))


_CSS = """body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 18px}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}.warn{color:#a00}img{max-width:100%;border:1px solid #eee;margin:4px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:8px}"""


def _level_html(s: dict[str, Any], plots: dict[str, list[Path]], base: Path) -> str:
    ch, da, pm = s["cycle_hours"], s["drop_amount"], s["per_month"]
    ex = s["expected"]
    rows = [
        ("Cycles simulated", s["cycles"], ""),
        ("Avg cycle duration (h)", ch["mean"], ex.get("cycle_hours")),
        ("Cycle range (h)", f"{_fmt(ch['min'])} - {_fmt(ch['max'])}", ""),
        ("Drops per week / month", f"{_fmt(s['drops_per_week'])} / {_fmt(s['drops_per_month'])}", ""),
        ("Avg drop amount", da["mean"], ex.get("avg_prize")),
        ("Drop amount p10 / p50 / p90", f"{_fmt(da['p10'])} / {_fmt(da['p50'])} / {_fmt(da['p90'])}", ""),
        ("Win Max hit rate (target < 5%)", f"{s['win_max_hit_rate']:.2%}", ""),
        ("Reset amount per cycle", s["per_cycle"].get("reset_amount"), ex.get("reset_amount")),
        ("  funded by the operator's seed draw", s["per_cycle"]["seed_cost"], ex.get("seed_cost")),
        ("  funded by players' carried reserve", s["per_cycle"].get("carried_reserve"), ex.get("carried_reserve")),
        ("Net contributions per cycle", s["per_cycle"]["contributions"], ex.get("net_contributions")),
        ("House cut per cycle", s["per_cycle"]["house_cut"], ex.get("house_cut_per_cycle")),
        ("Chain cost per cycle", s["per_cycle"]["chain_cost"], ex.get("chain_cost")),
        ("Net operator position / cycle", s["per_cycle"]["net"], ex.get("net_per_cycle")),
        ("House cut / month", pm["house_cut"], ""),
        ("Total prizes / month", pm["total_prizes"], ""),
        ("Seeds / month", pm["seeds"], ""),
        ("Net operator position / month", pm["net_position"], ex.get("monthly_net")),
        ("Warn dwell per cycle (min, target 15-90)", s["warn_dwell_minutes"]["mean"], ""),
        ("Target reached to drop (min)", s["target_to_drop_minutes"]["mean"], ""),
    ]
    t = ["<table><tr><th>Output</th><th>Simulated</th><th>Budget model</th></tr>"]
    for label, v, e in rows:
        t.append(f"<tr><td>{html.escape(label)}</td><td>{_fmt(v)}</td><td>{_fmt(e) if e != '' else ''}</td></tr>")
    t.append("</table>")
    w = s["warnings"]
    if w:
        t.append("<table><tr><th>Warning</th><th>Threshold</th><th>Value</th><th>Suggested fix</th></tr>")
        for x in w:
            t.append(f"<tr class='warn'><td>{html.escape(x['warning'])}</td><td>{html.escape(x['threshold'])}</td>"
                     f"<td>{html.escape(x['value'])}</td><td>{html.escape(x['fix'])}</td></tr>")
        t.append("</table>")
    else:
        t.append("<p>No configuration warnings.</p>")
    cf = s["condition_failures"]
    if cf:
        t.append("<table><tr><th>Condition (at/above target)</th><th>Blocked evaluations</th><th>Share</th></tr>")
        for r, v in sorted(cf.items(), key=lambda kv: -kv[1]["count"]):
            t.append(f"<tr><td>{html.escape(r)}</td><td>{v['count']}</td><td>{v['share']:.1%}</td></tr>")
        t.append("</table>")
    t.append("<div class='grid'>")
    for key, paths in plots.items():
        t.append(f"<img alt='{key}' src='{html.escape(paths[1].relative_to(base).as_posix())}'>")
    t.append("</div>")
    t.append(f"<p style='font-size:12px'>Time scale: 1 simulated bet = {s['time_scale']} real bets; "
             f"{s['simulated_bets']:,} simulated bets over {s['simulated_days']:,.1f} simulated days; {html.escape(s['stop_reason'])}.</p>")
    return "\n".join(t)


def write_report(scenarios: list[Scenario], out: Path, *, title: str = "Jackpot simulation") -> Path:
    """Write everything under ``out``; returns the report.html path."""
    out = Path(out)
    plots_dir = out / "plots"
    out.mkdir(parents=True, exist_ok=True)
    body = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    results = {"scenarios": []}
    if len(scenarios) > 1:
        rows = comparison([(sc.name, sc.summaries) for sc in scenarios])
        body.append("<h2>What-if comparison</h2><table><tr><th>Level</th><th>Metric</th>"
                    + "".join(f"<th>{html.escape(sc.name)}</th>" for sc in scenarios) + "</tr>")
        for r in rows:
            body.append(f"<tr><td>{html.escape(r['level'])}</td><td>{html.escape(r['metric'])}</td>"
                        + "".join(f"<td>{_fmt(v)}</td>" for v in r["values"]) + "</tr>")
        body.append("</table>")
        results["comparison"] = rows
    for si, sc in enumerate(scenarios):
        body.append(f"<h2>{html.escape(sc.name)}</h2>")
        for li, (run, s) in enumerate(zip(sc.runs, sc.summaries)):
            plots = plot_level(run, plots_dir, f"s{si + 1}_l{li + 1}_")
            body.append(f"<h3>{html.escape(s['level'])} ({html.escape(s['currency'])})</h3>")
            body.append(_level_html(s, plots, out))
        results["scenarios"].append({"name": sc.name, "meta": sc.meta, "levels": sc.summaries,
                                     "runs": [r.to_dict() for r in sc.runs]})
    body.append("</body></html>")
    (out / "results.json").write_text(json.dumps(results, default=str))
    path = out / "report.html"
    path.write_text("\n".join(body), encoding="utf-8")
    return path
