"""Posting to the books, reversing, balances and periods. Functions flush; callers commit.

Closing a month writes, in its ``ledger.close_month`` audit record, a snapshot of the month
counted from the postings themselves: per account the net cents and the number of postings,
and a SHA-256 over every (entry id, account, cents) in order. The audit record is sealed
(see ``fundapp.audit``), so ``check_closed_months`` can tell a month changed behind the
app's back (by someone who owns the database and turned its guards off) from one left alone.

The code lives in one module per job: ``posting`` (the chart, the checks, posting and reversing), ``balances``
(sums, statements, the trial balance, entries for exports), ``periods`` (closing, checking and reopening months,
and the registries other domains fill) and ``errors``. This module re-exports their names so callers keep writing
``from fundapp.ledger import services as ledger`` and ``ledger.post_entry(...)``.
"""
from __future__ import annotations

from fundapp.ledger.balances import (
                                     Activities,
                                     FinancialPosition,
                                     TrialBalanceLine,
                                     activities,
                                     available_from,
                                     available_to_grant,
                                     balance,
                                     balances,
                                     check_day_totals,
                                     count_entries_crediting,
                                     entries,
                                     final_figures,
                                     financial_position,
                                     journal_lines,
                                     net_assets,
                                     period_totals,
                                     rebuild_day_totals,
                                     trial_balance,
)
from fundapp.ledger.errors import AlreadyReversed, LedgerError, PeriodClosed
from fundapp.ledger.periods import (
                                     CLEARING,
                                     CLOSE_CHECKS,
                                     check_closed_months,
                                     cleared,
                                     closable_month,
                                     close_checks,
                                     close_month,
                                     closed_months,
                                     is_closed,
                                     month_snapshot,
                                     next_months_to_close,
                                     parse_month,
                                     reopen_month,
)
from fundapp.ledger.posting import (
                                     NewEntry,
                                     chart,
                                     find_entry,
                                     open_account,
                                     open_chart,
                                     post_entries,
                                     post_entry,
                                     reverse_entry,
                                     validate_accounts,
                                     validate_open_period,
                                     validate_postings,
)

__all__ = [
    "Activities", "AlreadyReversed", "CLEARING", "CLOSE_CHECKS", "FinancialPosition", "LedgerError", "PeriodClosed",
    "TrialBalanceLine", "activities", "available_from", "available_to_grant", "balance", "balances", "chart",
    "check_closed_months", "check_day_totals", "cleared", "closable_month", "close_checks", "close_month",
    "closed_months", "count_entries_crediting", "entries", "final_figures", "financial_position", "find_entry", "is_closed",
    "journal_lines", "month_snapshot", "NewEntry", "net_assets", "next_months_to_close", "open_account", "open_chart",
    "parse_month", "period_totals", "post_entries", "post_entry", "rebuild_day_totals", "reopen_month", "reverse_entry",
    "trial_balance", "validate_accounts", "validate_open_period", "validate_postings",
]
