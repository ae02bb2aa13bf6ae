"""Grid work (网格工作闭环): the catalogue of grid items (网格事项清单) with its admission and exit (准入退出),
and Open311 GeoReport v2 requests filed against the admitted items."""
