"""Bank reconciliation: the bank's statement lines beside the books' postings on the bank account.

Model: a ``BankImport`` is one statement file (its SHA-256, its period and, when known, the
bank's ending balance); its ``BankStatementLine`` rows are what the bank says moved (signed
cents, debit positive as in the ledger: money into the bank is positive). A ``BankMatch`` ties a
line to a posting on the ledger's bank account; a line is matched in full or not at all, by one
posting or several (a split), and a posting is matched at most once.

Invariants, checked by the services and held again by the database:

- a file is imported once (unique SHA-256 per fund and account), and no line twice: the same
  bank transaction id (FITID) or the same date, amount and reference (the fingerprint) is refused
  with the lines named, and nothing of the file is kept;
- ``matched_cents`` is 0 or the line's amount (CHECK); on PostgreSQL a deferred trigger checks at
  commit that a line's matches sum to its ``matched_cents``; a posting is in one match (UNIQUE);
- matching takes the line's row (a conditional UPDATE whose row count is checked), so two
  treasurers cannot match the same line twice; a bank fee or interest is booked through the
  ledger's ``post_entry`` (audited, once per line) and matched in the same transaction;
- unmatching is refused once the month of the line or of a matched posting is closed.

The bank depends on the ledger and the audit trail; the ledger knows nothing of it, and learns of
a month's reconciliation through ``ledger.services.CLOSE_CHECKS``, where this package registers.
"""
