"""Offline HTML reports (folium): coverage, staffing and incidents maps with every script and style inlined."""

from gridplanner.reports.maps import REPORTS, build_report
from gridplanner.reports.offline import ReportError

__all__ = ["REPORTS", "ReportError", "build_report"]
