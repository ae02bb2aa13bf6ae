"""Planar building blocks for synthetic data, in metres: seeds, Voronoi atoms, region growing, footprints.

Everything here works on plain shapely arrays in a projected CRS and knows nothing of what the shapes mean.
"""

from __future__ import annotations

import heapq
import zlib

import numpy as np
import shapely
from shapely import STRtree


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per named stream, so changing one part of the data leaves the others as they were."""
    return np.random.default_rng([int(seed), zlib.crc32(stream.encode())])


def jittered_points(rng: np.random.Generator, bounds: tuple[float, float, float, float], spacing: float,
                    jitter: float = 0.45) -> np.ndarray:
    """Points on a square lattice over ``bounds`` moved by up to ``jitter`` x ``spacing``: even but not regular."""
    minx, miny, maxx, maxy = bounds
    xs = np.arange(minx + spacing / 2, maxx, spacing)
    ys = np.arange(miny + spacing / 2, maxy, spacing)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    return pts + rng.uniform(-jitter, jitter, pts.shape) * spacing


def voronoi_cells(points: np.ndarray, extent: shapely.Geometry) -> np.ndarray:
    """Voronoi cells of ``points`` in input order, reaching at least to ``extent``.

    Cells are not clipped: neighbouring cells then share bit-identical edges, which keeps unions of them a
    valid coverage.
    """
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent, ordered=True))
    if len(cells) != len(points):
        raise ValueError(f"Voronoi gave {len(cells)} cells for {len(points)} points (duplicate points?)")
    return cells


def edge_neighbours(cells: np.ndarray) -> list[np.ndarray]:
    """For each polygon, the indices of the polygons it shares an edge with (a shared corner does not count)."""
    tree = STRtree(cells)
    i, j = tree.query(cells, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(cells[i]), shapely.boundary(cells[j])))
    keep = shared > 1e-6
    i, j = i[keep], j[keep]
    pairs = np.concatenate([np.column_stack([i, j]), np.column_stack([j, i])])
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    splits = np.searchsorted(pairs[:, 0], np.arange(len(cells) + 1))
    return [pairs[splits[k]:splits[k + 1], 1] for k in range(len(cells))]


def spread_seeds(rng: np.random.Generator, xy: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` rows of ``xy`` spread apart (farthest-point sampling from a random start)."""
    k = min(k, len(xy))
    chosen = [int(rng.integers(len(xy)))]
    dist = np.hypot(*(xy - xy[chosen[0]]).T)
    for _ in range(k - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.hypot(*(xy - xy[nxt]).T))
    return np.array(chosen)


def grow_regions(rng: np.random.Generator, neighbours: list[np.ndarray], members: np.ndarray, seeds: np.ndarray,
                 targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Label ``members`` (cell indices) with regions grown from ``seeds`` over the neighbour graph.

    The least-filled region (weight / target) takes a random cell of its frontier each step, so regions keep
    near their targets and their shared boundaries come out jagged. Returns labels for all cells (-1 outside
    ``members``). Cells no frontier reaches join a labelled neighbour, or the nearest seed's region.
    """
    n = len(neighbours)
    allowed = np.zeros(n, bool)
    allowed[members] = True
    labels = np.full(n, -1)
    fill = np.zeros(len(seeds))
    frontiers: list[list[int]] = [[] for _ in seeds]
    heap = []
    for r, s in enumerate(seeds):
        labels[s] = r
        fill[r] += weights[s]
        frontiers[r].extend(int(c) for c in neighbours[s] if allowed[c])
        heapq.heappush(heap, (fill[r] / targets[r], r))
    while heap:
        _, r = heapq.heappop(heap)
        front = frontiers[r]
        cell = -1
        while front:
            pos = int(rng.integers(len(front)))
            front[pos], front[-1] = front[-1], front[pos]
            c = front.pop()
            if labels[c] < 0:
                cell = c
                break
        if cell < 0:
            continue  # region has no room left
        labels[cell] = r
        fill[r] += weights[cell]
        front.extend(int(c) for c in neighbours[cell] if allowed[c] and labels[c] < 0)
        heapq.heappush(heap, (fill[r] / targets[r], r))
    _label_leftovers(labels, members, neighbours)
    return labels


def _label_leftovers(labels: np.ndarray, members: np.ndarray, neighbours: list[np.ndarray]) -> None:
    left = [int(c) for c in members if labels[c] < 0]
    while left:
        progress = False
        for c in left:
            lab = [labels[m] for m in neighbours[c] if labels[m] >= 0]
            if lab:
                labels[c] = min(lab)
                progress = True
        left = [c for c in left if labels[c] < 0]
        if not progress:
            labels[left] = labels[members[labels[members] >= 0][0]]
            break


def rotated_rectangles(cx: np.ndarray, cy: np.ndarray, length: np.ndarray, width: np.ndarray,
                       angle: np.ndarray) -> np.ndarray:
    """Rectangles centred on (cx, cy), ``length`` along ``angle`` (radians), ``width`` across it."""
    c, s = np.cos(angle), np.sin(angle)
    hx, hy = length / 2, width / 2
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], float)
    dx = corners[None, :, 0] * hx[:, None]
    dy = corners[None, :, 1] * hy[:, None]
    x = cx[:, None] + dx * c[:, None] - dy * s[:, None]
    y = cy[:, None] + dx * s[:, None] + dy * c[:, None]
    return shapely.polygons(np.stack([x, y], axis=-1))


def lattice_slots(rng: np.random.Generator, bounds: np.ndarray, step_along: np.ndarray, step_across: np.ndarray,
                  angle: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of a rotated lattice over each box in ``bounds`` (n, 4), one lattice per box.

    Returns x, y and the index of the box each centre belongs to. Lattice steps and angle are per box; the
    origin is shifted randomly so lattices do not line up across boxes.
    """
    xs, ys, owner = [], [], []
    for k, (minx, miny, maxx, maxy) in enumerate(bounds):
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        half = np.hypot(maxx - minx, maxy - miny) / 2
        u = np.arange(-half, half + step_along[k], step_along[k]) + rng.uniform(0, step_along[k])
        v = np.arange(-half, half + step_across[k], step_across[k]) + rng.uniform(0, step_across[k])
        gu, gv = np.meshgrid(u, v)
        gu, gv = gu.ravel(), gv.ravel()
        c, s = np.cos(angle[k]), np.sin(angle[k])
        x, y = cx + gu * c - gv * s, cy + gu * s + gv * c
        inside = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
        xs.append(x[inside])
        ys.append(y[inside])
        owner.append(np.full(int(inside.sum()), k))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owner)


def sinuous_line(rng: np.random.Generator, start: tuple[float, float], end: tuple[float, float], amplitude: float,
                 wavelength: float, step: float = 20.0) -> shapely.LineString:
    """A meandering line from ``start`` to ``end``: bends of about ``wavelength`` and ``amplitude`` metres.

    Three sine waves of nearby wavelengths beat against each other, so bends differ in size like a river's.
    """
    (x0, y0), (x1, y1) = start, end
    length = np.hypot(x1 - x0, y1 - y0)
    t = np.linspace(0, 1, max(int(length / step), 2))
    offset = np.zeros_like(t)
    for _ in range(3):
        cycles = length / (wavelength * rng.uniform(0.7, 1.4))
        offset += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * cycles * t + rng.uniform(0, 2 * np.pi))
    offset *= amplitude / 2 * np.sin(np.pi * t) ** 0.3  # meanders die out at the ends so the line starts where asked
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    return shapely.linestrings(x0 + (x1 - x0) * t + nx * offset, y0 + (y1 - y0) * t + ny * offset)


def wobbly_line(rng: np.random.Generator, start: tuple[float, float], end: tuple[float, float], wobble: float,
                n_bends: int = 4) -> shapely.LineString:
    """A road-like polyline from ``start`` to ``end`` with a few gentle bends of up to ``wobble`` metres."""
    t = np.linspace(0, 1, n_bends + 2)
    (x0, y0), (x1, y1) = start, end
    length = np.hypot(x1 - x0, y1 - y0)
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    off = rng.uniform(-wobble, wobble, len(t))
    off[[0, -1]] = 0
    return shapely.linestrings(x0 + (x1 - x0) * t + nx * off, y0 + (y1 - y0) * t + ny * off)


def largest_part(geom: shapely.Geometry) -> shapely.Geometry:
    """The largest polygon of ``geom`` (empty polygon when there is none)."""
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3] if len(parts) else parts
    if not len(parts):
        return shapely.Polygon()
    return parts[int(np.argmax(shapely.area(parts)))]


def shift_each(geoms: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Each geometry moved by its own (dx, dy)."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    coords = coords + np.column_stack([dx, dy])[index]
    return shapely.set_coordinates(np.array(geoms, dtype=object).copy(), coords)
