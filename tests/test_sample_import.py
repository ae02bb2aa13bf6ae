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


def test_the_sample_roster_and_incidents_load_onto_the_published_grids(db):
    # What `gridplanner demo` loads after publishing, so the dashboard and the staffing and incident layers
    # have data; here on a published plan of one grid per community (planning is tested elsewhere).
    from gridplanner import plans
    from gridplanner.importing.sample import load_sample_work
    import geopandas as gpd

    load_sample(db, get_settings().sample_dir)
    comm = gpd.read_postgis(text("SELECT code AS community_code, (ST_Dump(geom)).geom AS geom FROM communities"), db.connection(), geom_col="geom")
    plan = plans.create_draft(db, "one per community", from_published=False)
    plans.write_grids(db, plan.id, comm.assign(households=300), source="test")
    plans.publish(db, plan.id)
    roster, incidents = load_sample_work(db, get_settings().sample_dir)
    assert roster.inserted > 0 and incidents.inserted > 0
    staffed = db.execute(text("SELECT count(*) FROM staff WHERE grid_code IS NOT NULL")).scalar_one()
    assert staffed + len(roster.unassigned) == roster.inserted
    placed = db.execute(text("SELECT count(*) FROM incidents WHERE grid_code IS NOT NULL")).scalar_one()
    assert placed == incidents.inserted - incidents.no_grid > 0
