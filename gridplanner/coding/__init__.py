"""Grid codes: division code checks, coding rules and templates, stable code assignment with lineage."""

from gridplanner.coding.assign import EVENT_KINDS, CodingResult, LineageEvent, assign_codes
from gridplanner.coding.divisions import CodeError, check_code_table, check_community_code, decode_division
from gridplanner.coding.ordering import reading_order
from gridplanner.coding.rules import (
    BASIC,
    DEDICATED,
    DEFAULT_RULE,
    CodeParts,
    CodingRule,
    check_grid_codes,
    cjt349_rule,
    decode_code,
    rule_from_spec,
    template_rule,
)
from gridplanner.coding.template import CodeTemplate, TemplateError

__all__ = [
    "BASIC", "DEDICATED", "DEFAULT_RULE", "EVENT_KINDS",
    "CodeError", "CodeParts", "CodeTemplate", "CodingResult", "CodingRule", "LineageEvent", "TemplateError",
    "assign_codes", "check_code_table", "check_community_code", "check_grid_codes", "cjt349_rule", "decode_code", "decode_division",
    "reading_order", "rule_from_spec", "template_rule",
]  # fmt: skip
