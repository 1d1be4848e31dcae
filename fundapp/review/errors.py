"""What review's services refuse with; the views turn each into a message (an AlreadyDone is said as
information, the rest as errors)."""
from __future__ import annotations


class ReviewError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class Recused(ReviewError):
    pass


class InsufficientFunds(ReviewError):
    pass


class AlreadyDone(ReviewError):
    """The same decision again (a double-click, two tabs): nothing more happens, and the person is told."""


class StepUpNeeded(ReviewError):
    pass
