"""Map layers as Mapbox Vector Tiles and GeoJSON, made in PostGIS, with an in-process tile cache.

``layers`` holds the layer queries, ``mvt`` wraps them in ST_AsMVT, ``features`` in GeoJSON pages, ``cache``
keeps tiles with content ETags and drops them by the bounding box of each change, ``tilemath`` does the
Web Mercator arithmetic. This package imports ``gis`` at most, never ``gridplanner``.
"""
