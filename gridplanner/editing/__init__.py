"""Editing a draft plan by hand (the planner workspace): pure geometry edits, live validation, the
draft-versus-published diff, and the store side (edits with optimistic locking, an undo/redo log)."""

from gridplanner.editing.geometry import (
    EditError,
    assign_to_parts,
    merge_polygons,
    move_buildings,
    reshape_shared_boundary,
    snap_line,
    split_polygon_by_line,
)

__all__ = ["EditError", "assign_to_parts", "merge_polygons", "move_buildings", "reshape_shared_boundary", "snap_line", "split_polygon_by_line"]
