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
        {"key": "eligibility", "title": t["eligibility"], "body": " ".join(elig)},
        {"key": "simultaneous", "title": t["simultaneous"], "body": t["simultaneous_body"]},
    ]
    if config.get("type") == "MYSTERY":
        sections.append({"key": "mystery", "title": "Mystery", "body": t["mystery"]})
    if content.get("rules"):
        sections.append({"key": "operator_rules", "title": t["operator_rules"], "body": content["rules"]})
    return {"jackpot_id": str(config["jackpot_id"]), "language": language,
            "available_languages": languages(presentation), "title": content.get("title") or config["name"],
            "sections": sections}
