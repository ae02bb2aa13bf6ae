"""The PostGIS store: the embedded cluster, connections, the data model and its migrations."""
