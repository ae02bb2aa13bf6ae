"""A generic map-layer engine: layers described as data, served as Mapbox Vector Tiles and GeoJSON made in
PostGIS, with an in-process tile cache.

``layers`` describes a layer (its SQL, fields, sources, filters) and a catalog of them, ``mvt`` wraps a layer's
query in ST_AsMVT, ``features`` in GeoJSON pages, ``cache`` keeps tiles with content ETags and drops them by the
bounding box of each change, ``tilemath`` does the Web Mercator arithmetic. The application hands it its
layers (Gridplanner's: :mod:`gridplanner.maplayers`). This package imports ``gis`` at most, never
``gridplanner``.
"""
