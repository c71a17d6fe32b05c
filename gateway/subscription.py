"""What a connection asked for: jackpots (slug or id), levels (id or name), brands, currencies.
An empty filter means everything; a filter that matches nothing stays a filter (``NONE``)."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_VALUES = 100  # per filter: the Universe page follows every public jackpot with an empty one
MAX_CHARS = 100  # per value
NONE = "\x00none"  # the jackpot filter that matches no jackpot


class BadSubscription(ValueError):
    """A subscription a client sent that is not strings, or too many or too long ones."""


def _set(v, what: str) -> frozenset[str]:
    if v is None or v == "":
        return frozenset()
    if isinstance(v, str):
        v = v.split(",")
    elif not isinstance(v, (list, tuple)):
        raise BadSubscription(f"{what}: a comma-separated string or a list of strings")
    if any(isinstance(x, bool) or not isinstance(x, (str, int)) for x in v):
        raise BadSubscription(f"{what}: strings only")
    out = frozenset(str(x).strip() for x in v if str(x).strip())
    if len(out) > MAX_VALUES or any(len(x) > MAX_CHARS for x in out):
        raise BadSubscription(f"{what}: at most {MAX_VALUES} values of at most {MAX_CHARS} characters")
    return out


@dataclass(frozen=True)
class Subscription:
    jackpots: frozenset[str] = field(default_factory=frozenset)  # resolved ids
    levels: frozenset[str] = field(default_factory=frozenset)  # level ids or names (lower case)
    currencies: frozenset[str] = field(default_factory=frozenset)
    brands: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, doc: dict, resolve, brand_jackpots) -> "Subscription":
        if not isinstance(doc, dict):
            raise BadSubscription("a subscription is a JSON object")
        jackpots = {resolve(j) for j in _set(doc.get("jackpots") or doc.get("jackpot"), "jackpots")}
        brands = _set(doc.get("brands") or doc.get("brand"), "brands")
        if brands:
            by_brand = brand_jackpots(set(brands))
            # jackpots of those brands only; none of them is no jackpot, never every jackpot
            jackpots = ((jackpots & by_brand) if jackpots else set(by_brand)) or {NONE}
        return cls(frozenset(jackpots), frozenset(x.lower() for x in _set(doc.get("levels") or doc.get("level"), "levels")),
                   frozenset(x.upper() for x in _set(doc.get("currencies") or doc.get("currency"), "currencies")), brands)

    def wants(self, jackpot_id: str, level_id: str | None = None, currency: str | None = None,
              level_name: str | None = None) -> bool:
        if self.jackpots and jackpot_id not in self.jackpots:
            return False
        if self.levels and level_id is not None and level_id.lower() not in self.levels \
                and (level_name or "").lower() not in self.levels:
            return False
        if self.currencies and currency is not None and currency.upper() not in self.currencies:
            return False
        return True
