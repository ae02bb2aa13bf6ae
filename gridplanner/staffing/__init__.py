"""Grid staff (网格长, 专职网格员, 兼职网格员): roster import and checks (:mod:`.roster`), staffing rules
(:mod:`.rules`) and compliance with exports (:mod:`.compliance`), and moving staff and open incidents when a
new plan is published (:mod:`.reassign`, ``reassign_after_publish``)."""
