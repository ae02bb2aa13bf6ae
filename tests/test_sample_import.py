"""Every file of the sample district imports, with the reports the sample's documented defects call for."""

from __future__ import annotations

from sqlalchemy import text

from gridplanner.importing.sample import SAMPLE_FILES, load_sample
from gridplanner.settings import get_settings


def test_each_sample_file_imports(db):
    reports = load_sample(db, get_settings().sample_dir)
    assert [(r.kind, r.source.split("boundaries/")[1]) for r in reports] == [(k, f) for k, f, _ in SAMPLE_FILES]
    assert all(r.inserted > 0 for r in reports)
    by_source = {r.source.split("boundaries/")[1]: r for r in reports}
    # The 综治 layer carries a bowtie ring: repaired and reported, never silently.
    assert any("repaired invalid geometry (Self-intersection" in rep for rep in by_source["departments/综治.gpkg"].repairs)
    # GBK attributes of the 城管 shapefile (no .cpg) come out as Chinese.
    names = db.execute(text("SELECT g.name FROM department_grids g JOIN department_layers l ON l.id = g.layer_id WHERE l.department = '城管' LIMIT 5")).scalars().all()
    assert names and all("城管" in n for n in names)
    counts = dict(db.execute(text("SELECT 'communities', count(*) FROM communities UNION ALL SELECT 'placed', count(*) FROM buildings WHERE community_code IS NOT NULL")).all())
    assert 20 <= counts["communities"] <= 40
    assert counts["placed"] == by_source["buildings.gpkg"].inserted  # every sample building lies in a community
