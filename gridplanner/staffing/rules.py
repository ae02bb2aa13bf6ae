"""Staffing rules and the status they give each grid and community: 配齐 (fully staffed), 缺员 (short of
staff) or 超负荷 (overloaded), with the reasons. Pure functions over DataFrames; the store is read elsewhere."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

FULL, SHORT, OVERLOADED = "配齐", "缺员", "超负荷"
CHIEF, FULLTIME, PARTTIME = "网格长", "专职网格员", "兼职网格员"


@dataclass(frozen=True)
class StaffingRules:
    """Defaults follow national practice (1 网格长 + 1 专职网格员 + 兼职网格员 per grid; ≥ 18 community workers
    per 10,000 urban residents); localities differ, so every figure can be changed."""

    chiefs_per_grid: int = 1
    fulltime_per_grid: int = 1
    min_parttime_per_grid: int = 1
    max_households_per_fulltime: int = 500
    workers_per_10k_residents: float = 18.0
    #: The ratio is a rule for urban communities (社区); set to also hold villages (村) to it.
    ratio_applies_to_rural: bool = False

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not isinstance(value, bool) and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if self.max_households_per_fulltime <= 0:
            raise ValueError("max_households_per_fulltime must be positive")

    def as_dict(self) -> dict:
        return asdict(self)


GRID_COLUMNS = ["code", "community_code", "households", "population", CHIEF, FULLTIME, PARTTIME, "households_per_fulltime", "status", "reasons", "notes"]


def role_counts(staff: pd.DataFrame) -> pd.DataFrame:
    """Active workers per grid code and role (columns 网格长, 专职网格员, 兼职网格员)."""
    counts = pd.crosstab(staff["grid_code"], staff["role"]) if len(staff) else pd.DataFrame()
    return counts.reindex(columns=[CHIEF, FULLTIME, PARTTIME], fill_value=0).astype(int)


def assess_grids(grids: pd.DataFrame, staff: pd.DataFrame, rules: StaffingRules = StaffingRules()) -> pd.DataFrame:
    """One row per grid (``grids``: code, community_code, households, population) with the staff counts from
    ``staff`` (active workers: grid_code, role), the status and the reasons."""
    counts = role_counts(staff).reindex(grids["code"], fill_value=0)
    out = grids[["code", "community_code", "households", "population"]].reset_index(drop=True).copy()
    for role in (CHIEF, FULLTIME, PARTTIME):
        out[role] = counts[role].to_numpy()
    out["households_per_fulltime"] = [round(h / f) if f else None for h, f in zip(out["households"], out[FULLTIME])]
    statuses, reasons, notes = [], [], []
    for chief, full, part, hh in zip(out[CHIEF], out[FULLTIME], out[PARTTIME], out["households"]):
        short, over, note = [], [], []
        if chief < rules.chiefs_per_grid:
            short.append(f"网格长 {chief} 人，应配 {rules.chiefs_per_grid} 人")
        elif chief > rules.chiefs_per_grid:
            note.append(f"网格长 {chief} 人，规定 {rules.chiefs_per_grid} 人")
        if full < rules.fulltime_per_grid:
            short.append(f"专职网格员 {full} 人，应配 {rules.fulltime_per_grid} 人")
        elif full > rules.fulltime_per_grid:
            note.append(f"专职网格员 {full} 人，规定 {rules.fulltime_per_grid} 人")
        if part < rules.min_parttime_per_grid:
            short.append(f"兼职网格员 {part} 人，至少 {rules.min_parttime_per_grid} 人")
        if full and hh / full > rules.max_households_per_fulltime:
            over.append(f"每名专职网格员 {hh / full:.0f} 户，上限 {rules.max_households_per_fulltime} 户")
        statuses.append(SHORT if short else OVERLOADED if over else FULL)
        reasons.append("；".join(short + over))
        notes.append("；".join(note))
    out["status"], out["reasons"], out["notes"] = statuses, reasons, notes
    return out[GRID_COLUMNS]


COMMUNITY_COLUMNS = ["community_code", "name", "class", "grids", "population", "workers", "workers_required", "grids_short", "grids_overloaded", "status", "reasons"]


def assess_communities(grid_status: pd.DataFrame, communities: pd.DataFrame, rules: StaffingRules = StaffingRules()) -> pd.DataFrame:
    """One row per community (``communities``: code, name, class) holding grids: workers against the ratio
    rule, and how many of its grids are short of staff or overloaded."""
    g = grid_status.assign(workers=grid_status[CHIEF] + grid_status[FULLTIME] + grid_status[PARTTIME])
    agg = g.groupby("community_code").agg(
        grids=("code", "size"),
        population=("population", "sum"),
        workers=("workers", "sum"),
        grids_short=("status", lambda s: int((s == SHORT).sum())),
        grids_overloaded=("status", lambda s: int((s == OVERLOADED).sum())),
    ).reset_index()
    info = communities.rename(columns={"code": "community_code"})[["community_code", "name", "class"]]
    out = agg.merge(info, on="community_code", how="left")
    statuses, reasons, required = [], [], []
    for klass, population, workers, n_short, n_over in zip(out["class"], out["population"], out["workers"], out["grids_short"], out["grids_overloaded"]):
        applies = klass != "rural" or rules.ratio_applies_to_rural
        need = math.ceil(population * rules.workers_per_10k_residents / 10_000) if applies else 0
        short, over = [], []
        if workers < need:
            short.append(f"社区工作者 {workers} 人，常住 {population} 人按每万人 {rules.workers_per_10k_residents:g} 人应配 {need} 人")
        if n_short:
            short.append(f"{n_short} 个网格缺员")
        if n_over:
            over.append(f"{n_over} 个网格超负荷")
        required.append(need)
        statuses.append(SHORT if short else OVERLOADED if over else FULL)
        reasons.append("；".join(short + over))
    out["workers_required"], out["status"], out["reasons"] = required, statuses, reasons
    return out[COMMUNITY_COLUMNS].sort_values("community_code").reset_index(drop=True)
