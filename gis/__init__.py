"""Geometry foundation: coordinate systems, vector file I/O, validation, coverage checks, shape metrics.

Nothing in this package knows about grids or communities; it works on GeoDataFrames and shapely arrays.
"""
