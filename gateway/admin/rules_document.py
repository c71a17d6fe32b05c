"""The public rules document of a jackpot (regulatory item 14), in each configured language.

Before a player bets, the rules say how the jackpot is funded, its seed and ceiling values, its
share of the return to player, who is ineligible, and what happens when two players trigger it at
the same moment. The numbers come from the configuration, so the document cannot disagree with
what the engine runs; the operator's own rules text (step 6) follows the generated sections. Only
public values appear: never win targets, warn thresholds or the hidden reserve.

This module has no I/O, so the public ticker gateway can serve the same document.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

TEXT = {
    "en": {
        "funding": "How it is funded",
        "funding_body": "{rate} of every qualifying bet (times the game's coefficient) goes to this jackpot; "
                        "{house} of that is retained by the operator and {net} of each bet builds the prizes. "
                        "The prize pool is split between levels: {splits}.",
        "hidden": " Part of each contribution ({hidden}) funds the next cycle's starting amount, so starting amounts vary.",
        "seeds": "Starting amounts and ceilings",
        "seed_line": "{level} ({currency}): starts between {seed_from} and {seed_to}; always drops by {win_max}.",
        "rtp": "Return to player",
        "rtp_body": "The jackpot's share of the return to player is {net} of each qualifying bet (times the game's "
                    "coefficient). Games with coefficient 0 take part but do not contribute.",
        "eligibility": "Who can win",
        "elig_bets": "Only {bets} bets count.",
        "elig_min": "{level}: a winning bet must be at least {min_bet} {currency}.",
        "elig_excluded": "Excluded and self-excluded players do not contribute to the jackpot and cannot win it.",
        "elig_jur": "Players from jurisdictions other than {jurisdictions} cannot win.",
        "elig_kyc": "Only players with verified identity (KYC) can win.",
        "elig_segments": "Only players in these segments can win: {segments}.",
        "simultaneous": "Simultaneous triggers",
        "simultaneous_body": "If two bets trigger the same level at the same moment, the first in the jackpot's order "
                             "of events wins; the next one plays for the reseeded amount.",
        "mystery": "This is a mystery jackpot: the amount may be hidden, but the prize is real and drops by the "
                   "ceiling shown above.",
        "games": "Games",
        "games_body": "Participating games and how much of a bet each counts (its coefficient): {games}.",
        "game_zero": " {games} take part but do not contribute.",
        "game_no_trigger": " Bets on {games} contribute but cannot win this jackpot.",
        "selection": "How the winner is chosen",
        "mode1": "The bet that triggers the jackpot wins it.",
        "mode2": "When the jackpot triggers, the winner is drawn at random among the active eligible players, "
                 "with more chances for: {factors}.",
        "mode3": "When the jackpot triggers, the operator's rules choose the winner among the active eligible players: "
                 "{rules}.",
        "mode4": "When the jackpot triggers, the winner is drawn at random among the active eligible players, weighted "
                 "by play ({factors}) and by the operator's rules ({rules}).",
        "factors": {"bet_size": "bet size", "contribution_volume": "amount contributed this cycle",
                    "session_presence": "time in session", "bet_count": "qualifying bets this cycle",
                    "loyalty_tier": "loyalty tier", "recency": "most recent bet"},
        "rules_custom": "weights on {names}", "rules_star": "star players {boost} times the chance",
        "rules_segments": "targeted segments", "rules_none": "equal chances",
        "schedule": "When it runs",
        "schedule_daily": "Bets count only between {open} and {close} ({tz}) each day.",
        "schedule_weekly": "Bets count only from {open_day} {open} to {close_day} {close} ({tz}).",
        "schedule_span": " The campaign runs {span}.",
        "from_to": "from {start} to {end}", "from": "from {start}", "until": "until {end}",
        "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        "operator_rules": "Further rules",
        "bet_types": {"real": "real-money", "bonus": "bonus"},
        "and": " and ",
    },
    "ro": {
        "funding": "Cum este finanțat",
        "funding_body": "{rate} din fiecare pariu calificat (înmulțit cu coeficientul jocului) merge la acest jackpot; "
                        "{house} din aceasta este reținut de operator, iar {net} din fiecare pariu formează premiile. "
                        "Fondul de premii este împărțit între niveluri: {splits}.",
        "hidden": " O parte din fiecare contribuție ({hidden}) finanțează suma de pornire a ciclului următor, deci "
                  "sumele de pornire variază.",
        "seeds": "Sume de pornire și plafoane",
        "seed_line": "{level} ({currency}): pornește între {seed_from} și {seed_to}; se acordă cel târziu la {win_max}.",
        "rtp": "Returnarea către jucător",
        "rtp_body": "Partea jackpotului din returnarea către jucător este {net} din fiecare pariu calificat (înmulțit cu "
                    "coeficientul jocului). Jocurile cu coeficient 0 participă, dar nu contribuie.",
        "eligibility": "Cine poate câștiga",
        "elig_bets": "Contează doar pariurile {bets}.",
        "elig_min": "{level}: un pariu câștigător trebuie să fie de cel puțin {min_bet} {currency}.",
        "elig_excluded": "Jucătorii excluși și autoexcluși nu contribuie la jackpot și nu îl pot câștiga.",
        "elig_jur": "Jucătorii din alte jurisdicții decât {jurisdictions} nu pot câștiga.",
        "elig_kyc": "Pot câștiga doar jucătorii cu identitatea verificată (KYC).",
        "elig_segments": "Pot câștiga doar jucătorii din aceste segmente: {segments}.",
        "simultaneous": "Declanșări simultane",
        "simultaneous_body": "Dacă două pariuri declanșează același nivel în același moment, câștigă primul în ordinea "
                             "evenimentelor jackpotului; următorul joacă pentru suma resetată.",
        "mystery": "Acesta este un jackpot mister: suma poate fi ascunsă, dar premiul este real și se acordă cel târziu "
                   "la plafonul de mai sus.",
        "games": "Jocuri",
        "games_body": "Jocurile participante și cât contează un pariu în fiecare (coeficientul): {games}.",
        "game_zero": " {games} participă, dar nu contribuie.",
        "game_no_trigger": " Pariurile pe {games} contribuie, dar nu pot câștiga acest jackpot.",
        "selection": "Cum este ales câștigătorul",
        "mode1": "Pariul care declanșează jackpotul îl câștigă.",
        "mode2": "La declanșare, câștigătorul este tras la sorți dintre jucătorii activi eligibili, cu șanse mai mari "
                 "pentru: {factors}.",
        "mode3": "La declanșare, regulile operatorului aleg câștigătorul dintre jucătorii activi eligibili: {rules}.",
        "mode4": "La declanșare, câștigătorul este tras la sorți dintre jucătorii activi eligibili, ponderat după joc "
                 "({factors}) și după regulile operatorului ({rules}).",
        "factors": {"bet_size": "mărimea pariului", "contribution_volume": "suma contribuită în acest ciclu",
                    "session_presence": "timpul în sesiune", "bet_count": "pariurile calificate din acest ciclu",
                    "loyalty_tier": "nivelul de loialitate", "recency": "cel mai recent pariu"},
        "rules_custom": "ponderi după {names}", "rules_star": "jucătorii stea au de {boost} ori șansa",
        "rules_segments": "segmente țintite", "rules_none": "șanse egale",
        "schedule": "Când funcționează",
        "schedule_daily": "Pariurile contează doar între {open} și {close} ({tz}) în fiecare zi.",
        "schedule_weekly": "Pariurile contează doar de {open_day} {open} până {close_day} {close} ({tz}).",
        "schedule_span": " Campania se desfășoară {span}.",
        "from_to": "de la {start} până la {end}", "from": "de la {start}", "until": "până la {end}",
        "days": ["luni", "marți", "miercuri", "joi", "vineri", "sâmbătă", "duminică"],
        "operator_rules": "Alte reguli",
        "bet_types": {"real": "cu bani reali", "bonus": "bonus"},
        "and": " și ",
    },
}


def _pct(v: Any) -> str:
    d = (Decimal(str(v)) * 100).normalize()
    return f"{format(d, 'f')}%"


def _amt(v: Any) -> str:
    d = Decimal(str(v))
    return format(d.normalize() if d == d.to_integral_value() else d, "f")


def languages(presentation: dict[str, Any]) -> list[str]:
    langs = list((presentation.get("content") or {}).keys())
    default = presentation.get("default_language") or "en"
    return sorted(set(langs) | {default})


def build(config: dict[str, Any], presentation: dict[str, Any], language: str) -> dict[str, Any]:
    """The rules document for one language (built-in sentences in ``TEXT``; others fall back to English
    for the generated sections and keep the operator's own texts in that language)."""
    t = TEXT.get(language.split("-")[0], TEXT["en"])
    content = (presentation.get("content") or {}).get(language) or {}
    rate = Decimal(str(config["contribution_rate"]))
    house = Decimal(str(config.get("house_cut", "0")))
    net = rate * (1 - house)
    levels = sorted(config["levels"], key=lambda lv: lv["display_order"])
    splits = ", ".join(f"{lv['name']} {_pct(lv['contribution_split'])}" for lv in levels)
    funding = t["funding_body"].format(rate=_pct(rate), house=_pct(house), net=_pct(net), splits=splits)
    hidden = [lv for lv in levels if (lv.get("hidden_increment") or {}).get("enabled")]
    if hidden:
        funding += t["hidden"].format(hidden=", ".join(
            f"{lv['name']} {_pct(lv['hidden_increment']['coefficient'])}" for lv in hidden))
    seed_lines = []
    for lv in levels:
        for cur in config["currencies"]:
            a = (lv.get("currency_amounts") or {}).get(cur) or lv
            seed_lines.append(t["seed_line"].format(level=lv["name"], currency=cur, seed_from=_amt(a["seed_from"]),
                                                    seed_to=_amt(a["seed_to"]), win_max=_amt(a["win_max"])))
    bets = t["and"].join(t["bet_types"].get(b, b) for b in sorted(config.get("accepted_bet_types") or ["real"]))
    elig = [t["elig_bets"].format(bets=bets), t["elig_excluded"]]
    for lv in levels:
        for cur in config["currencies"]:
            a = (lv.get("currency_amounts") or {}).get(cur) or lv
            if Decimal(str(a.get("min_bet", "0"))) > 0:
                elig.append(t["elig_min"].format(level=lv["name"], min_bet=_amt(a["min_bet"]), currency=cur))
    e = config.get("eligibility") or {}
    if e.get("allowed_jurisdictions"):
        elig.append(t["elig_jur"].format(jurisdictions=", ".join(e["allowed_jurisdictions"])))
    if e.get("require_kyc"):
        elig.append(t["elig_kyc"])
    if config.get("player_segments"):
        elig.append(t["elig_segments"].format(segments=", ".join(config["player_segments"])))
    sections = [
        {"key": "funding", "title": t["funding"], "body": funding},
        {"key": "seeds", "title": t["seeds"], "body": " ".join(seed_lines)},
        {"key": "rtp", "title": t["rtp"], "body": t["rtp_body"].format(net=_pct(net))},
        {"key": "games", "title": t["games"], "body": _games(t, config.get("games") or [])},
        {"key": "eligibility", "title": t["eligibility"], "body": " ".join(elig)},
        {"key": "selection", "title": t["selection"], "body": _selection(t, config)},
        {"key": "simultaneous", "title": t["simultaneous"], "body": t["simultaneous_body"]},
    ]
    schedule = _schedule(t, config.get("schedule"))
    if schedule:
        sections.insert(1, {"key": "schedule", "title": t["schedule"], "body": schedule})
    if config.get("type") == "MYSTERY":
        sections.append({"key": "mystery", "title": "Mystery", "body": t["mystery"]})
    if content.get("rules"):
        sections.append({"key": "operator_rules", "title": t["operator_rules"], "body": content["rules"]})
    return {"jackpot_id": str(config["jackpot_id"]), "language": language,
            "available_languages": languages(presentation), "title": content.get("title") or config["name"],
            "sections": sections}


def _games(t: dict, games: list[dict]) -> str:
    """Regulatory item 18: every game's coefficient, and the games that feed without triggering."""
    def name(g: dict) -> str:
        return g.get("name") or g["game_id"]

    body = t["games_body"].format(games=", ".join(f"{name(g)} ×{_amt(g.get('coefficient', '1'))}" for g in games))
    zero = [name(g) for g in games if Decimal(str(g.get("coefficient", "1"))) == 0]
    if zero:
        body += t["game_zero"].format(games=", ".join(zero))
    silent = [name(g) for g in games if g.get("trigger_eligible") is False and Decimal(str(g.get("coefficient", "1"))) > 0]
    if silent:
        body += t["game_no_trigger"].format(games=", ".join(silent))
    return body


def _selection(t: dict, config: dict) -> str:
    """Regulatory item 18: how the winner is chosen, with the weighting's factors (never their values
    for a player)."""
    mode = int(config.get("distribution_mode") or 1)
    weights = {k: Decimal(str(v)) for k, v in (config.get("weight_factors") or {}).items() if Decimal(str(v)) > 0}
    factors = ", ".join(f"{t['factors'].get(k, k)} ({_pct(v)})" for k, v in
                        sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))
    rules = config.get("operator_rules") or {}
    parts = []
    if rules.get("custom_weights"):
        parts.append(t["rules_custom"].format(names=", ".join(sorted(rules["custom_weights"]))))
    if Decimal(str(rules.get("star_boost", "1"))) != 1:
        parts.append(t["rules_star"].format(boost=_amt(rules["star_boost"])))
    if config.get("player_segments"):
        parts.append(t["rules_segments"])
    rules_text = "; ".join(parts) or t["rules_none"]
    if mode == 2:
        return t["mode2"].format(factors=factors or t["rules_none"])
    if mode == 3:
        return t["mode3"].format(rules=rules_text)
    if mode == 4:
        return t["mode4"].format(factors=factors or t["rules_none"], rules=rules_text)
    return t["mode1"]


def _schedule(t: dict, schedule: dict | None) -> str:
    """When a timed or promotional jackpot takes bets (outside, a bet counts for nothing)."""
    if not schedule:
        return ""
    tz = schedule.get("timezone") or "UTC"
    hm = lambda v: str(v or "00:00")[:5]  # noqa: E731
    out = ""
    if schedule.get("recurrence") == "daily":
        out = t["schedule_daily"].format(open=hm(schedule.get("open_time")), close=hm(schedule.get("close_time")), tz=tz)
    elif schedule.get("recurrence") == "weekly":
        days = t["days"]
        out = t["schedule_weekly"].format(open_day=days[int(schedule["open_weekday"])], open=hm(schedule.get("open_time")),
                                          close_day=days[int(schedule["close_weekday"])],
                                          close=hm(schedule.get("close_time")), tz=tz)
    start, end = schedule.get("start_at"), schedule.get("end_at")
    if start or end:
        span = (t["from_to"].format(start=start, end=end) if start and end
                else t["from"].format(start=start) if start else t["until"].format(end=end))
        out += t["schedule_span"].format(span=span)
    return out.strip()
