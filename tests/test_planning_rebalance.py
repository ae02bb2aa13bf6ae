"""The rebalance's whole search of small sets (gridplanner.planning.rebalance): what the hill climb cannot reach
one helpful step at a time, and what only the open land between buildings connects."""

from __future__ import annotations

import numpy as np
import shapely

from gridplanner.planning.bisect import LocalFrame
from gridplanner.planning.rebalance import _cells, _connected, _exact, _open_land, _search, _unit_graph
from gridplanner.planning.rules import SizeRule

RULE = SizeRule(300, 500)
FRAME = LocalFrame(113.93, 22.53)  # Shenzhen Nanshan
M = 1 / 111_320.0  # one metre in the local frame's units


def _within(labels, hh, k):
    return all(RULE.within(hh[labels == j].sum()) for j in range(k))


def test_a_set_the_climb_leaves_out_of_bounds_is_searched_whole():
    # Six buildings on a 2 x 3 lattice (0 1 2 / 3 4 5), drawn as 390 | 600: every single move or swap from
    # there leaves a grid out of bounds or no nearer, so the climb stops; a labelling within bounds exists.
    pi, pj, length = np.array([0, 1, 3, 4, 0, 1, 2]), np.array([1, 2, 4, 5, 3, 4, 5]), np.ones(7)
    hh = np.array([60.0, 150.0, 180.0, 290.0, 250.0, 60.0])
    climbed = _search(np.array([0, 0, 0, 1, 1, 1]), hh, pi, pj, length, 2, RULE)
    assert not _within(climbed, hh, 2)
    labels = _exact(hh, pi, pj, length, 2, RULE)
    assert labels is not None and _within(labels, hh, 2)
    assert all(_connected(labels, j, pi, pj) for j in range(2))


def test_no_labelling_within_bounds_gives_none():
    pi, pj, length = np.array([0]), np.array([1]), np.ones(1)
    assert _exact(np.array([280.0, 290.0]), pi, pj, length, 2, RULE) is None


def _pt(x, y):
    return FRAME.to_lonlat(np.array([[x * M, y * M]]))[0]


def test_open_land_lets_a_grid_reach_past_a_tower():
    # A 200 m square: a tower of 298 households in the middle, five small houses north of it, three
    # buildings (243) south. Drawn on cells around the points, the tower's cell is a band across the
    # square and the south cannot reach the north without it (243 alone, or with the tower 541): no way
    # within bounds. With the open land east and west of the tower as units of their own, a grid can reach
    # round the tower: then there is a way (for instance the south with three of the houses, 346, and the
    # tower with two, 323).
    union = shapely.Polygon([_pt(0, 0), _pt(200, 0), _pt(200, 200), _pt(0, 200)])
    xy = np.array([_pt(100, 100),  # the tower
                   _pt(70, 175), _pt(85, 172), _pt(100, 178), _pt(115, 172), _pt(130, 175),  # small houses
                   _pt(85, 25), _pt(100, 28), _pt(115, 25)])  # the south
    hh = np.array([298.0, 10.0, 15.0, 30.0, 32.0, 41.0, 31.0, 98.0, 114.0])
    cells, unit = _cells(xy, union, FRAME)
    assert _exact(hh, *_unit_graph(cells, unit), 2, RULE) is None
    opened = _open_land(xy, union, FRAME)
    assert opened is not None
    o_cells, o_unit = opened
    n_units = int(o_unit.max()) + 1
    assert n_units > len(xy)
    pi, pj, length = _unit_graph(o_cells, o_unit)
    labels = _exact(hh, pi, pj, length, 2, RULE, n_units=n_units)
    assert labels is not None
    assert _within(labels[: len(hh)], hh, 2)
    assert all(_connected(labels, j, pi, pj) for j in range(2))
    # Every unit of land is given to a grid, and the two grids cover the square exactly.
    assert (labels >= 0).all()
    grids = [shapely.union_all(o_cells[labels[o_unit] == j]) for j in range(2)]
    assert all(g.geom_type == "Polygon" for g in grids)
    assert abs(sum(g.area for g in grids) - union.area) < 1e-12


def test_cells_around_footprints_hold_them():
    # A long slab beside a point tower: around points the tower's cell takes the slab's far end; around
    # footprints each building's cell holds its own footprint (up to the inset the seeds are drawn on).
    union = shapely.Polygon([_pt(0, 0), _pt(120, 0), _pt(120, 60), _pt(0, 60)])
    slab = shapely.Polygon([_pt(5, 20), _pt(90, 20), _pt(90, 30), _pt(5, 30)])
    tower = shapely.Polygon([_pt(95, 35), _pt(115, 35), _pt(115, 55), _pt(95, 55)])
    fps = np.array([slab, tower], dtype=object)
    xy = shapely.get_coordinates(shapely.point_on_surface(fps))
    cells, unit = _cells(xy, union, FRAME)
    slab_cell = shapely.union_all(cells[unit == 0])
    assert shapely.difference(slab, slab_cell).area > 0.05 * slab.area
    cells, unit = _cells(xy, union, FRAME, fps)
    for u, fp in enumerate(fps):
        own = shapely.union_all(cells[unit == u])
        assert shapely.difference(fp, own).area < 0.02 * fp.area
