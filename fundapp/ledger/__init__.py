"""The fund's double-entry books.

Model: a ``JournalEntry`` (date, memo, where it came from) holds two or more
``Posting`` rows, each a signed amount in integer cents on one ``Account``
(debit positive, credit negative). The postings of an entry sum to zero.
Balances are sums of postings: summed per account and day into ``DayTotal`` as each
entry is posted (same transaction), and checked against the postings by
``check_day_totals``. Posted rows are never updated or
deleted: a correction is a reversing entry pointing at the original, and each
entry can be reversed once. Each outside event posts at most once: the
(fund, source kind, source id) key is unique.

These invariants are checked in ``services.post_entry`` (small ``validate_*``
functions), refused again by the model layer (``before_flush``), and on
PostgreSQL by the database itself (triggers from migration 0002).
"""
