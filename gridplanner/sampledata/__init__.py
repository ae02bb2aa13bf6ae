"""Deterministic synthetic data: the sample district 示范区 (330106), a benchmark city, department layers.

All synthetic (names, codes below the county, people, phone and id numbers are invented); see
docs/sample-data.md. The same seed gives the same frames and byte-identical files.
"""

from gridplanner.sampledata.city import generate_city
from gridplanner.sampledata.departments import generate_department_layers
from gridplanner.sampledata.district import (
    BOUNDARY_CROSSER_ID,
    DISTRICT_CODE,
    DISTRICT_NAME,
    ROAD_STRADDLER_ID,
    generate_district,
)
from gridplanner.sampledata.writer import SAMPLE_FILES, write_sample

__all__ = [
    "BOUNDARY_CROSSER_ID",
    "DISTRICT_CODE",
    "DISTRICT_NAME",
    "ROAD_STRADDLER_ID",
    "SAMPLE_FILES",
    "generate_city",
    "generate_department_layers",
    "generate_district",
    "write_sample",
]
