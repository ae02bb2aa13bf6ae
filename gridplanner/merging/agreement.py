"""How well department layers agree: mean best IoU of one layer's grids against another's; the base layer."""

from __future__ import annotations

import numpy as np
import shapely

from gis.errors import InputError

#: Grids per layer used to score agreement; a deterministic sample keeps large layers fast.
SAMPLE = 500


def best_iou(geoms: np.ndarray, others: np.ndarray, tree: shapely.STRtree | None = None) -> np.ndarray:
    """For each of ``geoms``, the highest intersection-over-union with any of ``others`` (0 when none meets it)."""
    tree = tree or shapely.STRtree(others)
    a, b = tree.query(geoms, predicate="intersects")
    best = np.zeros(len(geoms))
    if len(a):
        inter = shapely.area(shapely.intersection(geoms[a], others[b]))
        union = shapely.area(geoms[a]) + shapely.area(others[b]) - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        np.maximum.at(best, a, iou)
    return best


def agreement(layers: dict[str, np.ndarray]) -> dict[str, float]:
    """Each layer's mean best IoU against every other layer, averaged over the others."""
    names = list(layers)
    trees = {n: shapely.STRtree(layers[n]) for n in names}

    def score(n: str) -> float:
        geoms = layers[n]
        sample = geoms[:: max(1, len(geoms) // SAMPLE)]
        per_other = [best_iou(sample, layers[m], trees[m]).mean() for m in names if m != n]
        return float(np.mean(per_other)) if per_other else 1.0

    return {n: score(n) for n in names}


def choose_base(scores: dict[str, float], wanted: str | None) -> str:
    """``wanted`` when given (it must be a layer), else the layer that agrees most with the others."""
    if wanted is not None:
        if wanted not in scores:
            raise InputError(f"base layer {wanted!r} is not one of the layers {list(scores)}")
        return wanted
    # Ties go to the first layer given, so the caller's order decides between equals.
    return max(scores, key=lambda n: (round(scores[n], 9), -list(scores).index(n)))
