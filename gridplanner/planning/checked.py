"""One community planned in isolation with every hard rule checked in both CRSes, and fallbacks that keep them.

The engine (:func:`gridplanner.planning.community.plan_community`) works in floating-point lon/lat. Its grids
are settled onto the precision model (:func:`gis.coverage.settle`) and checked in lon/lat and in the metric CRS:
a valid single polygon each, an exact coverage of the community, every building wholly in one grid. When the
engine fails on a community (an exception, or a rule broken), the community still gets grids that keep every
hard rule, from plainer plans tried in turn:

1. ``blocks``: the blocks that roads, rivers and dedicated areas make, small ones joined, nothing cut between
   buildings;
2. ``whole``: the community as one grid (one per part of a multipart community).

The plan says which one it is and why the better ones were not used; the caller flags the grids and lists the
community in the report. An exception is logged with its traceback (logger ``gridplanner.planning``): it is
a fault of the engine, not of the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from pyproj import CRS

from gis.coverage import coverage_report, followed_footprints, footprints_outside, settle
from gridplanner.planning.bisect import LocalFrame
from gridplanner.planning.community import BASIC, CommunityInput, Grid, _overlap_groups, _place, plan_community
from gridplanner.planning.rules import SizeRule

log = logging.getLogger("gridplanner.planning")

#: Plans tried after the engine's own, plainest last.
FALLBACKS = ("blocks", "whole")


@dataclass
class CommunityPlan:
    """A community's grids (on the precision model) and how they were obtained."""

    grids: list[Grid]
    #: None for the engine's plan, else the fallback used ("blocks", "whole"), or "failed" when even the
    #: plainest plan breaks a rule (the community itself is then unusable; the check says how).
    fallback: str | None = None
    #: Why each better plan was not used, in the order tried.
    reasons: list[str] = field(default_factory=list)
    #: The hard-rule check of the grids returned (see :func:`check_grids`).
    check: dict = field(default_factory=dict)


def plan_checked(data: CommunityInput, rule: SizeRule, metric_crs: CRS, *, community: str = "") -> CommunityPlan:
    """Plan one community (``data`` in lon/lat, on the precision model) and check the result.

    ``community`` names it in log messages. Never raises for a fault of the engine.
    """
    if data.together is None:
        data.together = _overlap_groups(data.footprints)
    frame = _frame(data.region)
    attempts = (
        ("engine", lambda: plan_community(data, rule, frame)),
        ("blocks", lambda: plan_community(data, rule, frame, blocks_only=True)),
        ("whole", lambda: whole_community(data)),
    )
    reasons: list[str] = []
    grids, check = [], {}
    for name, attempt in attempts:
        try:
            raw = attempt()
            # The engine's grids are one clean coverage: settled as they are first (quicker), and rebuilt
            # from their faces only when that leaves a rule broken.
            grids = settled(raw, data, fit=False)
            check = check_grids(grids, data, metric_crs)
            if not check["ok"]:
                grids = settled(raw, data, fit=True)
                check = check_grids(grids, data, metric_crs)
        except Exception as exc:  # a fault of the engine: logged, and the next plan is tried
            log.exception("planning community %s (%s plan) failed", community, name)
            reasons.append(f"{name}: internal error {type(exc).__name__}: {exc}")
            grids, check = [], {}
            continue
        if check["ok"]:
            return CommunityPlan(grids, None if name == "engine" else name, reasons, check)
        reasons.append(f"{name}: {describe(check)}")
    return CommunityPlan(grids, "failed", reasons, check)


def _frame(region) -> LocalFrame:
    """The community's own local frame: each community is planned the same whatever else is in the run."""
    minx, miny, maxx, maxy = shapely.bounds(region)
    return LocalFrame((minx + maxx) / 2, (miny + maxy) / 2)


def whole_community(data: CommunityInput) -> list[Grid]:
    """The community as one basic grid per part: the plainest plan, and one that keeps every hard rule."""
    parts = shapely.get_parts(data.region)
    return [Grid(geometry=p, type=BASIC, members=np.zeros(0, dtype=np.intp), households=0) for p in parts]


def settled(grids: list[Grid], data: CommunityInput, *, fit: bool = True) -> list[Grid]:
    """``grids`` settled onto the precision model, their buildings placed again (a grid thinner than the grid
    cell everywhere is dropped; its buildings go where their points now lie). ``fit``: see
    :func:`gis.coverage.settle`."""
    geoms = np.array([g.geometry for g in grids], dtype=object)
    result = settle(geoms, data.region, fixed=followed_footprints(data.footprints, geoms), fit=fit)
    keep = [k for k in range(len(grids)) if k not in set(result.lost)]
    polys = result.polygons[keep]
    where = _place(data, polys) if len(data.households) else np.zeros(0, dtype=np.intp)
    out = []
    for j, k in enumerate(keep):
        members = np.flatnonzero(where == j)
        out.append(replace(grids[k], geometry=polys[j], members=members, households=int(data.households[members].sum())))
    return out


def check_grids(grids: list[Grid], data: CommunityInput, metric_crs: CRS) -> dict:
    """Every hard rule of one community's grids, in lon/lat and in ``metric_crs``: coverage (valid single
    polygons tiling the community exactly) and buildings (each footprint wholly inside its grid)."""
    geoms = np.array([g.geometry for g in grids], dtype=object)
    cov = coverage_report(geoms, data.region, metric_crs)
    owner = np.full(len(data.households), -1, dtype=np.intp)
    for k, g in enumerate(grids):
        owner[g.members] = k
    unplaced = int((owner < 0).sum())
    outside = footprints_outside(data.footprints, geoms, owner, metric_crs) if len(geoms) else {"lonlat": 0, "metric": 0, "worst_m2": 0.0}
    return {
        "ok": bool(cov["ok"] and unplaced == 0 and outside["lonlat"] == 0 and outside["metric"] == 0),
        "coverage": cov,
        "buildings_outside_their_grid": outside,
        "buildings_in_no_grid": unplaced,
    }


def describe(check: dict) -> str:
    """The broken rules of a check, in a few words each."""
    said = []
    cov = check.get("coverage", {})
    for crs in ("lonlat", "metric"):
        c = cov.get(crs, {})
        label = "lon/lat" if crs == "lonlat" else "metric CRS"
        if c.get("error"):
            said.append(f"GEOS error in {label}: {c['error']}")
        for key, what in (("invalid", "invalid grids"), ("not_single", "multipart grids"), ("invalid_edges", "grids with unmatched edges")):
            if c.get(key):
                said.append(f"{c[key]} {what} in {label}")
        for key, what in (("gap_m2", "gap"), ("overlap_m2", "overlap"), ("outside_m2", "outside the community")):
            if c.get(key, 0) > 0.01:
                said.append(f"{c[key]:.3g} m² {what} in {label}")
    out = check.get("buildings_outside_their_grid", {})
    for crs in ("lonlat", "metric"):
        if out.get(crs):
            said.append(f"{out[crs]} buildings cut by a grid boundary ({'lon/lat' if crs == 'lonlat' else 'metric CRS'})")
    if check.get("buildings_in_no_grid"):
        said.append(f"{check['buildings_in_no_grid']} buildings in no grid")
    return "; ".join(said) or "no rule broken"
