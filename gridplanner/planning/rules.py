"""The size rule for grids (规模适度): minimum, maximum and target households, and how many grids a count needs."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SizeRule:
    """Households per grid: ``min_households`` to ``max_households``, aiming at ``target_households``.

    The target defaults to the midpoint. Urban grids are mostly 300–500 households; rural ones ~300.

    >>> SizeRule(300, 500).target
    400
    """

    min_households: int = 300
    max_households: int = 500
    target_households: int | None = None

    def __post_init__(self):
        lo, hi, target = self.min_households, self.max_households, self.target_households
        if lo <= 0 or hi <= 0:
            raise ValueError(f"household bounds must be positive, got min={lo}, max={hi}")
        if lo > hi:
            raise ValueError(f"min households ({lo}) is greater than max households ({hi})")
        if target is not None and not lo <= target <= hi:
            raise ValueError(f"target households ({target}) must lie between min ({lo}) and max ({hi})")

    @property
    def target(self) -> int:
        return self.target_households if self.target_households is not None else (self.min_households + self.max_households) // 2

    def within(self, households: float) -> bool:
        return self.min_households <= households <= self.max_households

    def grid_count(self, households: float) -> int:
        """How many grids ``households`` should make: near the target, within bounds when any count allows it.

        >>> r = SizeRule(300, 500)
        >>> r.grid_count(250), r.grid_count(450), r.grid_count(1200), r.grid_count(550)
        (1, 1, 3, 2)
        """
        if households <= self.max_households:
            return 1
        fewest = math.ceil(households / self.max_households)
        most = math.floor(households / self.min_households)
        if fewest > most:
            # No count keeps every grid within bounds; respect the ceiling.
            return fewest
        return min(max(round(households / self.target), fewest), most)


def rule_for(rules: SizeRule | dict[str, SizeRule], community_class) -> SizeRule:
    """The rule for a community class: ``rules`` itself, or its entry for the class (else "default", else the
    built-in default)."""
    if isinstance(rules, SizeRule):
        return rules
    key = None if community_class is None else str(community_class)
    if key in rules:
        return rules[key]
    return rules.get("default", SizeRule())


#: Rural grids are drawn around ~300 households (or a village group), urban ones 300–500 (docs/planning.md).
RURAL_DEFAULT = (250, 350)


def size_rules(min_households: int = 300, max_households: int = 500, rural_min: int | None = None,
               rural_max: int | None = None, target_households: int | None = None) -> dict[str, SizeRule]:
    """The rules by community class, one set for the CLI and the API: urban (and any class not named) from
    ``min_households``–``max_households``, rural 250–350 unless given.

    >>> r = size_rules(); (r["urban"].min_households, r["rural"].max_households, r["default"] is r["urban"])
    (300, 350, True)
    """
    urban = SizeRule(min_households, max_households, target_households)
    rural = SizeRule(rural_min if rural_min is not None else RURAL_DEFAULT[0],
                     rural_max if rural_max is not None else RURAL_DEFAULT[1])
    return {"default": urban, "urban": urban, "rural": rural}
