"""Grid division (网格划分): divide communities into grids of moderate size that follow roads and rivers,
never cut a building, and tile each community exactly."""

from gridplanner.planning.engine import PlanResult, divide
from gridplanner.planning.households import estimate_households
from gridplanner.planning.rules import SizeRule

__all__ = ["PlanResult", "SizeRule", "divide", "estimate_households"]
