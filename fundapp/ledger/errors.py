"""The ledger's refusals: each message says why, for people."""
from __future__ import annotations


class LedgerError(ValueError):
    """An entry or action the books refuse; the message says why, for people."""


class PeriodClosed(LedgerError):
    pass


class AlreadyReversed(LedgerError):
    pass

