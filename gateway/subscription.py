"""What a connection asked for: jackpots (slug or id), levels (id or name), brands, currencies.
An empty filter means everything."""

from __future__ import annotations

from dataclasses import dataclass, field


def _set(v) -> frozenset[str]:
    if v is None or v == "":
        return frozenset()
    if isinstance(v, str):
        v = v.split(",")
    return frozenset(str(x).strip() for x in v if str(x).strip())


@dataclass(frozen=True)
class Subscription:
    jackpots: frozenset[str] = field(default_factory=frozenset)  # resolved ids
    levels: frozenset[str] = field(default_factory=frozenset)  # level ids or names (lower case)
    currencies: frozenset[str] = field(default_factory=frozenset)
    brands: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, doc: dict, resolve, brand_jackpots) -> "Subscription":
        jackpots = {resolve(j) for j in _set(doc.get("jackpots") or doc.get("jackpot"))}
        brands = _set(doc.get("brands") or doc.get("brand"))
        if brands:
            by_brand = brand_jackpots(set(brands))
            jackpots = (jackpots & by_brand) if jackpots else set(by_brand) or {"\x00none"}
        return cls(frozenset(jackpots), frozenset(x.lower() for x in _set(doc.get("levels") or doc.get("level"))),
                   frozenset(x.upper() for x in _set(doc.get("currencies") or doc.get("currency"))), brands)

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
