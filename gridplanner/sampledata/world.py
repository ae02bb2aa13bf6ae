"""The synthetic world shared by the sample district and the benchmark city, built in metres.

Order of construction: an irregular outline filled with small Voronoi atoms; townships (街道/镇) grown from
anchors over the atom graph; communities (社区/村) grown inside each township; roads and rivers; dedicated
areas (schools, parks, ...); building footprints on per-community rotated lattices, kept clear of community
boundaries, roads and rivers.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely import STRtree

from gis.crs import STORAGE_CRS, gauss_kruger_crs
from gridplanner.sampledata import names as N
from gridplanner.sampledata.shapes import (
    edge_neighbours,
    grow_regions,
    jittered_points,
    largest_part,
    lattice_slots,
    rotated_rectangles,
    sinuous_line,
    spread_seeds,
    voronoi_cells,
    wobbly_line,
)

#: Road kinds and the half-width (carriageway + setback) that buildings keep clear of, in metres.
ROAD_CLEARANCE = {"主干路": 22.0, "次干路": 14.0, "支路": 8.0}
RIVER_CLEARANCE = 25.0
#: Floor area per household used to derive households from footprint x floors (m², gross incl. common parts).
M2_PER_HOUSEHOLD = 95.0
PERSONS_PER_HOUSEHOLD = (2.6, 2.9)

DEDICATED_KINDS = ["school", "hospital", "park", "industrial_park", "market", "government"]
DEDICATED_USE = {"school": "school", "hospital": "hospital", "park": "public", "industrial_park": "industrial",
                 "market": "commercial", "government": "public"}
DEDICATED_LABEL = {"school": "小学", "hospital": "社区卫生服务中心", "park": "公园", "industrial_park": "工业园",
                   "market": "农贸市场", "government": "行政服务中心"}
# Size range (m) of each kind's site: length, width.
DEDICATED_SIZE = {"school": (150, 250, 110, 180), "hospital": (110, 180, 80, 140), "park": (200, 420, 150, 300),
                  "industrial_park": (300, 600, 220, 400), "market": (70, 130, 60, 100),
                  "government": (80, 150, 70, 120)}


@dataclass(frozen=True)
class TownshipPlan:
    """One township (街道 or 镇) to grow: where it starts, its share of the area, its communities."""

    district_code: str
    district_name: str
    code: str  # 3-digit GB/T 10114 township code
    name: str
    rural: bool
    n_communities: int
    anchor: tuple[float, float]  # metres from the centre
    area_share: float


@dataclass(frozen=True)
class BuildingSpec:
    """How densely and how big to build: lattice steps and footprint sizes (m) for urban and rural communities."""

    urban_step: tuple[float, float] = (75.0, 48.0)
    rural_step: tuple[float, float] = (22.0, 20.0)
    urban_length: tuple[float, float] = (20.0, 60.0)
    urban_width: tuple[float, float] = (15.0, 25.0)
    rural_length: tuple[float, float] = (10.0, 16.0)
    rural_width: tuple[float, float] = (8.0, 12.0)
    tower_share: float = 0.25
    lowrise_share: float = 0.0  # share of urban buildings that are 1-3 floor houses (城中村) with 1-8 households


def local_crs(lon: float) -> CRS:
    """The metric CRS the world is built in: the CGCS2000 Gauss–Krüger zone of ``lon``."""
    return gauss_kruger_crs(lon)


def centre_xy(crs: CRS, lon: float, lat: float) -> tuple[float, float]:
    x, y = Transformer.from_crs(STORAGE_CRS, crs, always_xy=True).transform(lon, lat)
    return float(x), float(y)


# ---------------------------------------------------------------------------------------------- communities


def atoms_in_outline(rng: np.random.Generator, centre: tuple[float, float], half_w: float, half_h: float,
                     spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi atoms over a box, and the indices of those inside a wobbly ellipse (the territory)."""
    cx, cy = centre
    bounds = (cx - half_w * 1.25, cy - half_h * 1.25, cx + half_w * 1.25, cy + half_h * 1.25)
    pts = jittered_points(rng, bounds, spacing)
    cells = voronoi_cells(pts, shapely.box(*bounds).buffer(spacing * 4))
    theta = np.arctan2((pts[:, 1] - cy) / half_h, (pts[:, 0] - cx) / half_w)
    radius = np.ones_like(theta)
    for k, amp in ((2, 0.08), (3, 0.06), (5, 0.03)):
        radius += amp * np.sin(k * theta + rng.uniform(0, 2 * np.pi))
    inside = np.hypot((pts[:, 0] - cx) / half_w, (pts[:, 1] - cy) / half_h) < radius
    return pts, cells, np.flatnonzero(inside)


def grow_communities(rng: np.random.Generator, pts: np.ndarray, cells: np.ndarray, members: np.ndarray,
                     neighbours: list[np.ndarray], plans: list[TownshipPlan],
                     centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Atom labels: township index and community index (global) per atom; -1 outside the territory."""
    weights = shapely.area(cells)
    anchors = np.array([p.anchor for p in plans]) + np.array(centre)
    seeds = []
    for a in anchors:
        order = np.argsort(np.hypot(*(pts[members] - a).T))
        seeds.append(next(int(members[i]) for i in order if int(members[i]) not in seeds))
    shares = np.array([p.area_share for p in plans])
    town = grow_regions(rng, neighbours, members, np.array(seeds), shares / shares.sum(), weights)
    community = np.full(len(cells), -1)
    first = 0
    for t, plan in enumerate(plans):
        mine = np.flatnonzero(town == t)
        k = min(plan.n_communities, len(mine))
        local = mine[spread_seeds(rng, pts[mine], k)]
        lab = grow_regions(rng, neighbours, mine, local, rng.uniform(0.7, 1.3, k), weights)
        community[mine] = lab[mine] + first
        first += k
    return town, community


def make_exclave(rng: np.random.Generator, community: np.ndarray, town: np.ndarray,
                 neighbours: list[np.ndarray]) -> tuple[int, int] | None:
    """Move one atom deep inside a community to another community of the same township (a 飞地).

    The receiving community becomes multipart and the giving one gets a hole. Returns (giver, receiver).
    """
    candidates = []
    for c in rng.permutation(len(community)):
        owner = community[c]
        if owner < 0:
            continue
        ring = set(int(m) for m in neighbours[c])
        ring2 = set(int(x) for m in ring for x in neighbours[m]) - {int(c)}
        if all(community[m] == owner for m in ring | ring2):
            candidates.append(int(c))
        if len(candidates) >= 50:
            break
    for c in candidates:
        owner = community[c]
        peers = np.unique(community[(town == town[c]) & (community != owner) & (community >= 0)])
        if len(peers):
            receiver = int(peers[rng.integers(len(peers))])
            community[c] = receiver
            return int(owner), receiver
    return None


def community_frame(rng: np.random.Generator, cells: np.ndarray, community: np.ndarray, town: np.ndarray,
                    plans: list[TownshipPlan], crs: CRS) -> gpd.GeoDataFrame:
    """Communities with statistical-division codes, names and urban–rural class (metric CRS)."""
    n = community.max() + 1
    geoms = np.array([shapely.coverage_union_all(cells[community == c]) for c in range(n)], dtype=object)
    township = np.array([town[np.flatnonzero(community == c)[0]] for c in range(n)])
    # An exclave atom keeps its township but belongs to another community; use the majority township.
    for c in range(n):
        vals, counts = np.unique(town[community == c], return_counts=True)
        township[c] = vals[np.argmax(counts)]
    rural = np.array([plans[t].rural for t in township])
    taken: set[str] = set()
    urban_names = N.unique_names(rng, N.PLACE_FIRST, N.PLACE_SECOND, int((~rural).sum()), "社区", taken)
    rural_names = N.unique_names(rng, N.SURNAMES, N.VILLAGE_SECOND, int(rural.sum()), "村", taken)
    cent = shapely.centroid(geoms)
    cx, cy = shapely.get_x(cent), shapely.get_y(cent)
    codes = np.empty(n, dtype=object)
    for t, plan in enumerate(plans):
        mine = np.flatnonzero(township == t)
        # Number north to south in 500 m bands, west to east within a band (as DB11/T 2157 does for grids).
        order = mine[np.lexsort((cx[mine], -np.floor(cy[mine] / 500.0)))]
        start = 201 if plan.rural else 1
        for seq, c in enumerate(order):
            codes[c] = f"{plan.district_code}{plan.code}{start + seq:03d}"
    frame = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [None] * n,
            "street_code": [plans[t].district_code + plans[t].code for t in township],
            "street_name": [plans[t].name for t in township],
            "district_code": [plans[t].district_code for t in township],
            "district_name": [plans[t].district_name for t in township],
            "class": np.where(rural, "rural", "urban"),
            "urban_rural_code": np.where(rural, "220", "111"),
        },
        geometry=geoms,
        crs=crs,
    )
    frame.loc[~rural, "name"] = urban_names
    frame.loc[rural, "name"] = rural_names
    # Urban communities bordering villages are the urban fringe (城乡结合区, 112).
    nb = edge_neighbours(geoms)
    fringe = [c for c in range(n) if not rural[c] and any(rural[m] for m in nb[c])]
    frame.loc[fringe, "urban_rural_code"] = "112"
    return frame.sort_values("code", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- roads, rivers


def build_roads(rng: np.random.Generator, outline: shapely.Geometry, urban: shapely.Geometry, major_step: float,
                local_step: float, crs: CRS) -> gpd.GeoDataFrame:
    """Arterials and secondary roads across the territory, a lattice of local streets in the urban part."""
    minx, miny, maxx, maxy = shapely.bounds(outline)
    pad = 300.0
    lines, kinds = [], []
    for horizontal in (True, False):
        lo, hi = (miny, maxy) if horizontal else (minx, maxx)
        n = max(int((hi - lo) / major_step), 1)
        for i in range(2 * n + 1):
            if i == 0 or i == 2 * n:
                continue
            kind = "主干路" if i % 2 == 1 else "次干路"
            if kind == "次干路" and rng.random() < 0.3:
                continue
            pos = lo + (hi - lo) * i / (2 * n) + rng.uniform(-0.08, 0.08) * major_step
            tilt = rng.uniform(-0.06, 0.06) * (maxx - minx if horizontal else maxy - miny)
            if horizontal:
                start, end = (minx - pad, pos - tilt), (maxx + pad, pos + tilt)
            else:
                start, end = (pos - tilt, miny - pad), (pos + tilt, maxy + pad)
            lines.append(wobbly_line(rng, start, end, major_step * 0.06))
            kinds.append(kind)
    street = list(range(len(lines)))  # one street per arterial line
    angle = rng.uniform(-0.2, 0.2)
    local, line_id = _local_streets(rng, shapely.bounds(urban), local_step, angle)
    local = shapely.intersection(local, urban)
    lines += list(local)
    kinds += ["支路"] * len(local)
    street += list(line_id + len(street))
    geoms = shapely.intersection(np.array(lines, dtype=object), outline.buffer(pad))
    frame = gpd.GeoDataFrame({"kind": kinds, "street": street}, geometry=geoms, crs=crs).explode(index_parts=False)
    frame = frame[(frame.geom_type == "LineString") & (frame.length > 60)].reset_index(drop=True)
    frame["name"] = _road_names(rng, frame)
    return frame[["name", "kind", "geometry"]]


def _local_streets(rng: np.random.Generator, bounds: tuple, step: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Short street pieces on a slightly rotated lattice (about half kept), and the lattice line of each."""
    minx, miny, maxx, maxy = bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = np.hypot(maxx - minx, maxy - miny) / 2
    c, s = np.cos(angle), np.sin(angle)
    out, line_id = [], []
    for k, offset in enumerate(np.arange(-half, half, step) + rng.uniform(0, step)):
        a = -half
        while a < half:
            length = rng.uniform(300, 900)
            if rng.random() < 0.55:
                for d, (u0, v0, u1, v1) in enumerate(((a, offset, a + length, offset), (offset, a, offset, a + length))):
                    out.append(((cx + u0 * c - v0 * s, cy + u0 * s + v0 * c), (cx + u1 * c - v1 * s, cy + u1 * s + v1 * c)))
                    line_id.append(2 * k + d)
            a += length
    if not out:
        return np.array([], dtype=object), np.array([], dtype=int)
    return shapely.linestrings(np.array(out)), np.array(line_id)


def _road_names(rng: np.random.Generator, roads: gpd.GeoDataFrame) -> list[str]:
    """A name per street (pieces of one street share it); arterials get 路/大道, local streets 路/街/巷."""
    pool = [a + b + suffix for suffix in ("路", "街", "巷") for a in N.ROAD_FIRST for b in N.ROAD_SECOND if a != b]
    pool = [pool[i] for i in rng.permutation(len(pool))]
    lu = [p for p in pool if p.endswith("路")]
    majors = [p[:-1] + "大道" if i % 3 == 0 else p for i, p in enumerate(lu[::2])]
    minors = [p for p in pool if not p.endswith("路")] + lu[1::2]
    names: dict[int, str] = {}
    n_major = n_minor = 0
    for street, kind in zip(roads["street"], roads["kind"]):
        if street in names:
            continue
        if kind == "支路":
            name, n_minor = _cycled(minors, n_minor), n_minor + 1
        else:
            name, n_major = _cycled(majors, n_major), n_major + 1
        names[street] = name
    return [names[s] for s in roads["street"]]


def _cycled(pool: list[str], i: int) -> str:
    """The i-th name, with a number once the pool is used up (文华街, ..., 文华二街 ...)."""
    rounds = "一二三四五六七八九"
    name = pool[i % len(pool)]
    k = i // len(pool)
    if k == 0:
        return name
    cut = -2 if name.endswith("大道") else -1
    return name[:cut] + rounds[min(k, 8)] + name[cut:]


def build_rivers(rng: np.random.Generator, outline: shapely.Geometry, n_rivers: int, crs: CRS) -> gpd.GeoDataFrame:
    """Meandering rivers across the territory (first west–east, then north–south)."""
    minx, miny, maxx, maxy = shapely.bounds(outline)
    lines, names = [], []
    pool = ["清溪河", "白沙河", "龙泉港", "杨柳塘", "沙河", "运粮河"]
    for i in range(n_rivers):
        if i % 2 == 0:
            y0, y1 = (miny + (maxy - miny) * rng.uniform(0.3, 0.7) for _ in range(2))
            line = sinuous_line(rng, (minx - 200, y0), (maxx + 200, y1), 300.0, 1500.0)
        else:
            x0, x1 = (minx + (maxx - minx) * rng.uniform(0.3, 0.7) for _ in range(2))
            line = sinuous_line(rng, (x0, miny - 200), (x1, maxy + 200), 300.0, 1500.0)
        lines.append(line)
        names.append(pool[i % len(pool)])
    geoms = shapely.intersection(np.array(lines, dtype=object), outline.buffer(200))
    frame = gpd.GeoDataFrame({"name": names}, geometry=geoms, crs=crs).explode(index_parts=False)
    return frame[frame.geom_type == "LineString"].reset_index(drop=True)


def barriers(roads: gpd.GeoDataFrame, rivers: gpd.GeoDataFrame) -> np.ndarray:
    """Road and river corridors that buildings keep clear of."""
    widths = roads["kind"].map(ROAD_CLEARANCE).to_numpy(float)
    return np.concatenate([shapely.buffer(roads.geometry.values, widths, cap_style="flat"),
                           shapely.buffer(rivers.geometry.values, RIVER_CLEARANCE)])


# ---------------------------------------------------------------------------------------------- buildings


@dataclass
class Slots:
    """Candidate footprints: one per lattice slot that fits inside its community and clear of barriers."""

    geometry: np.ndarray
    owner: np.ndarray  # community row
    x: np.ndarray
    y: np.ndarray
    area: np.ndarray
    rural: np.ndarray
    tower: np.ndarray


def candidate_slots(rng: np.random.Generator, communities: gpd.GeoDataFrame, roads: gpd.GeoDataFrame,
                    rivers: gpd.GeoDataFrame, spec: BuildingSpec, setback: float = 5.0) -> Slots:
    """Footprints on a rotated lattice per community, sized to their slot so they never overlap each other.

    Kept: footprints at least ``setback`` inside their community and clear of roads and rivers
    (:data:`ROAD_CLEARANCE`, :data:`RIVER_CLEARANCE` from the centre line).
    """
    geoms = communities.geometry.values
    rural = (communities["class"] == "rural").to_numpy()
    n = len(geoms)
    step_a = np.where(rural, spec.rural_step[0], spec.urban_step[0])
    step_c = np.where(rural, spec.rural_step[1], spec.urban_step[1])
    angle = rng.uniform(0, np.pi / 2, n)
    x, y, owner = lattice_slots(rng, shapely.bounds(geoms), step_a, step_c, angle)
    m = len(x)
    is_rural = rural[owner]
    tower = ~is_rural & (rng.random(m) < spec.tower_share)
    lo_len = np.where(is_rural, spec.rural_length[0], spec.urban_length[0])
    hi_len = np.where(is_rural, spec.rural_length[1], spec.urban_length[1])
    lo_wid = np.where(is_rural, spec.rural_width[0], spec.urban_width[0])
    hi_wid = np.where(is_rural, spec.rural_width[1], spec.urban_width[1])
    length = rng.uniform(lo_len, hi_len)
    width = rng.uniform(lo_wid, hi_wid)
    length = np.where(tower, rng.uniform(lo_wid, np.maximum(lo_wid, 0.5 * (lo_len + hi_len))), length)
    width = np.where(tower, np.maximum(length * rng.uniform(0.75, 1.0, m), lo_wid), width)
    # Keep each footprint inside its slot with a gap: cap the sides, then the centre jitter by what is left.
    tilt = np.deg2rad(rng.uniform(-4, 4, m))
    gap = np.where(is_rural, 4.0, 10.0)
    length = np.minimum(length, step_a[owner] - gap - width * np.sin(np.deg2rad(4)))
    width = np.minimum(width, step_c[owner] - gap - length * np.sin(np.deg2rad(4)))
    ext_a = length * np.cos(tilt) + width * np.abs(np.sin(tilt))
    ext_c = width * np.cos(tilt) + length * np.abs(np.sin(tilt))
    free_a = np.maximum(step_a[owner] - gap - ext_a, 0) / 2
    free_c = np.maximum(step_c[owner] - gap - ext_c, 0) / 2
    du, dv = rng.uniform(-1, 1, m) * free_a, rng.uniform(-1, 1, m) * free_c
    a = angle[owner]
    x = x + du * np.cos(a) - dv * np.sin(a)
    y = y + du * np.sin(a) + dv * np.cos(a)
    inner = shapely.buffer(geoms, -setback)
    shapely.prepare(inner)
    # Most lattice points of a bounding box fall outside the community: drop them before making rectangles.
    near = np.flatnonzero(shapely.contains_xy(inner[owner], x, y))
    x, y, owner, is_rural, tower = x[near], y[near], owner[near], is_rural[near], tower[near]
    rects = rotated_rectangles(x, y, length[near], width[near], (a + tilt)[near])
    ok = shapely.contains_properly(inner[owner], rects)
    for lines, distance in clearances(roads, rivers):
        hit = STRtree(lines).query(rects, predicate="dwithin", distance=distance)[0]
        ok[hit] = False
    keep = np.flatnonzero(ok)
    return Slots(rects[keep], owner[keep], x[keep], y[keep], shapely.area(rects[keep]), is_rural[keep], tower[keep])


def clearances(roads: gpd.GeoDataFrame, rivers: gpd.GeoDataFrame) -> list[tuple[np.ndarray, float]]:
    """Centre lines and the distance buildings keep from them, per road kind and for rivers."""
    out = [(roads.geometry.values[(roads["kind"] == kind).to_numpy()], d) for kind, d in ROAD_CLEARANCE.items()]
    out.append((rivers.geometry.values, RIVER_CLEARANCE))
    return [(lines, d) for lines, d in out if len(lines)]


def residential_attributes(rng: np.random.Generator, area: np.ndarray, rural: np.ndarray, tower: np.ndarray,
                           lowrise_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Floors and households from footprint: households = area x floors x 0.75 / 95 m², within realistic bounds."""
    m = len(area)
    floors = np.where(tower, rng.integers(18, 34, m), np.where(rng.random(m) < 0.6, rng.integers(5, 8, m), rng.integers(8, 19, m)))
    households = np.clip(np.round(area * floors * 0.75 / M2_PER_HOUSEHOLD), 12, 120)
    low = ~rural & (rng.random(m) < lowrise_share)
    floors = np.where(low, rng.integers(1, 4, m), floors)
    households = np.where(low, np.clip(np.round(area * floors / 120.0), 1, 8), households)
    floors = np.where(rural, rng.integers(2, 4, m), floors)
    households = np.where(rural, np.where(rng.random(m) < 0.8, 1, 2), households)
    return floors.astype(int), households.astype(int)


def pick_in_order(owner: np.ndarray, key: np.ndarray, amount: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per owner, the rows taken in descending ``key`` until their ``amount`` reaches the owner's ``target``."""
    order = np.lexsort((-key, owner))
    own, amt = owner[order], amount[order]
    total = np.cumsum(amt)
    starts = np.searchsorted(own, own, side="left")
    before = total - amt - np.where(starts > 0, total[starts - 1], 0)
    return np.sort(order[before < target[own]])


def hamlet_weights(rng: np.random.Generator, slots: Slots, n_owners: int, per_owner: int = 4,
                   sigma: float = 180.0) -> np.ndarray:
    """A weight per slot that is high near a few random hamlet centres of its community (rural clustering)."""
    w = np.full(len(slots.x), 1e-3)
    for c in range(n_owners):
        mine = np.flatnonzero(slots.owner == c)
        if not len(mine):
            continue
        centres = mine[rng.integers(len(mine), size=min(per_owner, len(mine)))]
        d2 = np.min((slots.x[mine, None] - slots.x[centres]) ** 2 + (slots.y[mine, None] - slots.y[centres]) ** 2, axis=1)
        w[mine] += np.exp(-d2 / (2 * sigma**2))
    return w


def place_dedicated(rng: np.random.Generator, communities: gpd.GeoDataFrame, slots: Slots, kinds: list[str],
                    blocked: np.ndarray) -> gpd.GeoDataFrame:
    """Dedicated areas, at most one per community: a site around a free slot, inside the community and off roads."""
    rural = (communities["class"] == "rural").to_numpy()
    has_slots = np.bincount(slots.owner, minlength=len(communities)) > 0
    urban_pool = list(rng.permutation(np.flatnonzero(~rural & has_slots)))
    rural_pool = list(rng.permutation(np.flatnonzero(rural & has_slots)))
    tree = STRtree(blocked) if len(blocked) else None
    rows = []
    for kind in kinds:
        pool = rural_pool if (kind == "industrial_park" and rural_pool) else urban_pool or rural_pool
        if not pool:
            break
        c = int(pool.pop())
        mine = np.flatnonzero(slots.owner == c)
        s = mine[rng.integers(len(mine))]
        l0, l1, w0, w1 = DEDICATED_SIZE[kind]
        site = rotated_rectangles(np.array([slots.x[s]]), np.array([slots.y[s]]), np.array([rng.uniform(l0, l1)]),
                                  np.array([rng.uniform(w0, w1)]), np.array([rng.uniform(0, np.pi)]))[0]
        site = shapely.intersection(site, shapely.buffer(communities.geometry.values[c], -10))
        if tree is not None:
            near = tree.query(site, predicate="intersects")
            if len(near):
                site = shapely.difference(site, shapely.union_all(blocked[near]))
        site = largest_part(site)
        if site.is_empty or site.area < 2000:
            continue
        name = communities["name"].iat[c].removesuffix("社区").removesuffix("村") + DEDICATED_LABEL[kind]
        rows.append({"name": name, "kind": kind, "community_code": communities["code"].iat[c], "geometry": site})
    return gpd.GeoDataFrame(rows, columns=["name", "kind", "community_code", "geometry"], crs=communities.crs)


def dedicated_buildings(rng: np.random.Generator, dedicated: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A few non-residential buildings inside each dedicated site (none in some parks)."""
    geoms = dedicated.geometry.values
    n = len(geoms)
    if n == 0:
        return gpd.GeoDataFrame({"use": [], "name": []}, geometry=[], crs=dedicated.crs)
    big = dedicated["kind"].isin(["industrial_park"]).to_numpy()
    step_a = np.where(big, 90.0, 60.0)
    step_c = np.where(big, 70.0, 40.0)
    angle = rng.uniform(0, np.pi / 2, n)
    x, y, owner = lattice_slots(rng, shapely.bounds(geoms), step_a, step_c, angle)
    # Footprints share their lattice's rotation and are smaller than a slot, so they never touch.
    length = rng.uniform(20, step_a[owner] - 14)
    width = rng.uniform(12, step_c[owner] - 14)
    rects = rotated_rectangles(x, y, length, width, angle[owner])
    inner = shapely.buffer(geoms, -5)
    shapely.prepare(inner)
    ok = shapely.contains_properly(inner[owner], rects)
    rects, owner = rects[ok], owner[ok]
    wanted = {"school": 4, "hospital": 3, "park": 1, "industrial_park": 8, "market": 2, "government": 3}
    keep = []
    for c in range(n):
        mine = np.flatnonzero(owner == c)
        k = int(rng.integers(0, wanted[dedicated["kind"].iat[c]] + 1))
        keep.extend(sorted(rng.permutation(mine)[:k]))
    keep = np.array(keep, dtype=int)
    kinds = dedicated["kind"].to_numpy()[owner[keep]]
    names = [f"{dedicated['name'].iat[o]}{i + 1}号楼" for i, o in enumerate(owner[keep])]
    return gpd.GeoDataFrame({"use": [DEDICATED_USE[k] for k in kinds], "name": names, "site": owner[keep]},
                            geometry=rects[keep], crs=dedicated.crs)


def territory(communities: gpd.GeoDataFrame) -> shapely.Geometry:
    return shapely.coverage_union_all(communities.geometry.values)


def to_storage_rounded(frame: gpd.GeoDataFrame, decimals: int = 7) -> gpd.GeoDataFrame:
    """``frame`` in EPSG:4490 with coordinates rounded (1e-7° ≈ 1 cm): smaller files, identical shared vertices."""
    out = frame.to_crs(STORAGE_CRS)
    out = out.set_geometry(shapely.transform(out.geometry.values, lambda c: np.round(c, decimals)))
    return out
