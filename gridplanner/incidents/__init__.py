"""Incidents (事件): the category catalogue with time limits, the lifecycle 上报 → 受理 → 派遣 → 处置 → 核查 →
结案 → 评价, placing incidents in grids by location, hotline import, queries and per-grid counts."""
