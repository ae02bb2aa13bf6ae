"""tile change notifications from staff and incidents

Revision ID: 0008
Revises: 0007

Every write to staff or incidents, from the API, the CLI, a bulk COPY import or psql, tells the tile caches of
every server process which box changed (on commit, through NOTIFY on the channel tiles.cache listens to).
Statement-level triggers with transition tables send one notice per statement, however many rows it touched.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHANNEL = "gridplanner_tiles"

_NOTIFY = """
CREATE FUNCTION gridplanner_notify_extent(what text, e box2d) RETURNS void LANGUAGE sql AS $$
    SELECT pg_notify('{channel}', json_build_object(
        'what', what,
        'bbox', CASE WHEN e IS NULL THEN NULL ELSE json_build_array(ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)) END)::text)
$$;

CREATE FUNCTION gridplanner_incidents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE e box2d;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT ST_Extent(geom) INTO e FROM old_rows;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT ST_Extent(geom) INTO e FROM new_rows;
    ELSE
        SELECT ST_Extent(geom) INTO e FROM (SELECT geom FROM old_rows UNION ALL SELECT geom FROM new_rows) r;
    END IF;
    IF e IS NOT NULL THEN PERFORM gridplanner_notify_extent('incidents', e); END IF;
    RETURN NULL;
END $$;

-- Staff rows carry no geometry: the box is that of the published grids holding their codes.
CREATE FUNCTION gridplanner_staff_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE e box2d;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT ST_Extent(g.geom) INTO e FROM grids g WHERE g.code IN (SELECT grid_code FROM old_rows);
    ELSIF TG_OP = 'INSERT' THEN
        SELECT ST_Extent(g.geom) INTO e FROM grids g WHERE g.code IN (SELECT grid_code FROM new_rows);
    ELSE
        SELECT ST_Extent(g.geom) INTO e FROM grids g
        WHERE g.code IN (SELECT grid_code FROM old_rows UNION SELECT grid_code FROM new_rows);
    END IF;
    IF e IS NOT NULL THEN PERFORM gridplanner_notify_extent('staff', e); END IF;
    RETURN NULL;
END $$;
""".replace("{channel}", CHANNEL)


def _triggers(table: str, function: str) -> str:
    return "\n".join(
        f"CREATE TRIGGER {table}_tiles_{op_.lower()} AFTER {op_} ON {table} REFERENCING {ref} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
        for op_, ref in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        )
    )


def upgrade() -> None:
    op.execute(_NOTIFY)
    op.execute(_triggers("incidents", "gridplanner_incidents_changed"))
    op.execute(_triggers("staff", "gridplanner_staff_changed"))


def downgrade() -> None:
    for table in ("incidents", "staff"):
        for op_ in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_tiles_{op_} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gridplanner_staff_changed()")
    op.execute("DROP FUNCTION IF EXISTS gridplanner_incidents_changed()")
    op.execute("DROP FUNCTION IF EXISTS gridplanner_notify_extent(text, box2d)")
