"""Import of communities, buildings, roads, rivers, dedicated areas and department grid layers.

Each import first *prepares* the file (read, check every feature, map fields) without touching the store, so
bad input is rejected whole with every problem named; then writes in one transaction.
"""

from gridplanner.importing.prepare import KINDS, Prepared, prepare
from gridplanner.importing.write import ImportReport, import_file, write_prepared

__all__ = ["KINDS", "ImportReport", "Prepared", "import_file", "prepare", "write_prepared"]
