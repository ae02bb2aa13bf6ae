"""Map layers as data: a :class:`Layer` is a named SQL query with its fields, sources and filters, and a
:class:`Catalog` is the list of layers the engine serves. The layers themselves are the application's
(Gridplanner's are in :mod:`gridplanner.maplayers`); nothing here knows what a table holds.

A layer's query returns an ``id``, its attributes and ``geom`` (EPSG:4490). The caller supplies the spatial
predicate (a tile envelope or a bbox) so it lands on the base table's GiST index, and the filters from the query
string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

Spatial = Callable[[str], str]
#: Columns a layer with ``mercator`` stores beside ``geom`` (the geometry in EPSG:3857 and its clearance), read
#: by vector tiles instead of projecting each row.
MERCATOR_COLUMNS = ("geom_3857", "clearance_3857")


class UnknownLayer(LookupError):
    """A layer name the catalog does not have."""


class FilterError(ValueError):
    """A query-string filter the layer does not take, or a value it cannot have."""


class Filters(Protocol):
    """What the engine needs of a request's filters (the application defines them: see
    :class:`gridplanner.maplayers.Filters`): the names used, a hashable key for the tile cache, and the SQL
    parameters they give."""

    def used(self) -> list[str]: ...

    def key(self) -> tuple: ...

    def params(self) -> dict: ...


@dataclass(frozen=True)
class Layer:
    name: str
    title: str
    description: str
    geometry: str  # Polygon / Point
    #: attribute -> description; also the TileJSON ``vector_layers`` fields.
    fields: dict[str, str]
    #: tables whose rows this layer shows: a change there invalidates its tiles.
    sources: tuple[str, ...]
    #: the table whose extent is the collection's extent.
    extent_table: str
    #: SQL of the layer's rows; layers with ``mercator`` take ``mercator=True`` to add MERCATOR_COLUMNS.
    query: Callable[..., str]
    filters: tuple[str, ...] = ()
    statuses: tuple[str, ...] | None = None  # allowed ``status`` values; None: any
    id_column: str | None = "id"
    minzoom: int = 10
    maxzoom: int = 20
    #: density bins: the query needs ``:cell`` (metres of EPSG:3857).
    binned: bool = False
    #: SQL giving the next instant the layer's attributes change by the clock alone (a row falling due).
    expiry: Callable[[Filters, Spatial], str] | None = None
    #: SQL parameters the query needs beyond the filters (defaults; a caller's context overrides them).
    params: dict = field(default_factory=dict)
    #: rows come from a table that stores MERCATOR_COLUMNS.
    mercator: bool = False


def check_filters(layer: Layer, filters: Filters) -> None:
    """A FilterError naming the filters ``layer`` does not take."""
    unsupported = [k for k in filters.used() if k not in layer.filters]
    if unsupported:
        takes = ", ".join(layer.filters) or "none"
        raise FilterError(f"layer {layer.name!r} takes no filter {', '.join(unsupported)} (it takes: {takes})")


def bind(layer: Layer, filters: Filters, context: dict | None = None) -> dict:
    """SQL parameters for ``layer``'s query: its own defaults, the caller's ``context``, then the filters'."""
    return {**layer.params, **(context or {}), **filters.params()}


class Catalog(Mapping[str, Layer]):
    """The layers an application serves, by name, with the SQL parameters all of them share (``params``,
    under each layer's own).

    >>> q = lambda f, spatial, ctx: f"SELECT id, geom FROM roads r WHERE {spatial('r')}"
    >>> cat = Catalog([Layer("roads", "Roads", "", "LineString", {}, ("roads",), "roads", q)], params={"k": 1})
    >>> list(cat), cat.using("roads"), cat["roads"].params
    (['roads'], ['roads'], {'k': 1})
    """

    def __init__(self, layers: Iterable[Layer], *, params: dict | None = None) -> None:
        self._layers = {layer.name: replace(layer, params={**(params or {}), **layer.params}) for layer in layers}

    def __getitem__(self, name: str) -> Layer:
        return self._layers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def get_layer(self, name: str) -> Layer:
        """The layer ``name``; a LookupError naming the layers there are otherwise."""
        try:
            return self._layers[name]
        except KeyError:
            raise UnknownLayer(f"unknown layer {name!r}; layers: {', '.join(self._layers)}") from None

    def sources(self) -> set[str]:
        return {s for layer in self._layers.values() for s in layer.sources}

    def using(self, table_or_layer: str) -> list[str]:
        """Layers to invalidate when ``table_or_layer`` (a table name, or a layer name) changes."""
        if table_or_layer in self._layers and table_or_layer not in self.sources():
            return [table_or_layer]
        hit = [name for name, layer in self._layers.items() if table_or_layer in layer.sources]
        if not hit:
            raise LookupError(f"no layer shows {table_or_layer!r}; tables: {', '.join(sorted(self.sources()))}")
        return hit
