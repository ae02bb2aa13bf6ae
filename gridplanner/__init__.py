"""Gridplanner (网格规划): the domain, the store, the HTTP API and the CLI."""

__version__ = "0.1.0"
