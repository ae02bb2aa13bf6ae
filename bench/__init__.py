"""Benchmarks: one module per benchmark, each runnable with ``python -m bench.<name>``."""
