"""Grid plans in the store: drafts planned, merged and edited, then published atomically
(:mod:`~gridplanner.plans.drafts`); the codes a plan gets at publication (:mod:`~gridplanner.plans.codes`);
going back to an earlier published plan (:mod:`~gridplanner.plans.rollback`)."""

from gridplanner.plans.drafts import (
    PlanError,
    create_draft,
    delete_draft,
    divide_into_draft,
    merge_into_draft,
    publish,
    published_plan,
    rename,
    write_grids,
)

__all__ = ["PlanError", "create_draft", "delete_draft", "divide_into_draft", "merge_into_draft", "publish", "published_plan",
           "rename", "write_grids"]
