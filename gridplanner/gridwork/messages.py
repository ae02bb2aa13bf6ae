"""Errors of grid work in Chinese and English.

The project has no language negotiation (no Accept-Language handling anywhere), so every error carries both
texts: ``str(exc)`` is the Chinese one (the default of the product) followed by the English, and the API puts
them in ``detail`` and ``detail_en``."""

from __future__ import annotations


class GridWorkError(ValueError):
    """A rule of grid work refused the request; ``zh`` and ``en`` say why."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        # Listings (an import's problems, one a line) read better as two blocks than with the English in brackets.
        super().__init__(f"{zh}\n{en}" if "\n" in zh else f"{zh} ({en})")

    def body(self) -> dict:
        return {"detail": self.zh, "detail_en": self.en}


class ItemNotFound(GridWorkError, LookupError):
    def __init__(self, code: str):
        super().__init__(f"网格事项清单中没有事项 {code}", f"no grid item {code!r} in the catalogue")


class ItemRuleError(GridWorkError):
    """A field or a step of the admission record the rules do not allow."""


class ItemStepError(ItemRuleError):
    """A step of the admission record the item's status does not allow (admit twice, re-admit after exit)."""


class ItemNotAssignable(GridWorkError):
    """The item is not (or no longer) admitted: nothing of it may be pushed down to grid workers."""
