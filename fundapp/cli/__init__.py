"""``flask --app wsgi fund ...``: the operator's and treasurer's commands.

Each command does its work through the same services as the pages, commits
once, and exits non-zero with a clear message when it refuses. One module per
group of commands, each thin (parse the options, call a service, print):

- ``people``: accounts, roles, the second factor, the roster;
- ``donations``: Stripe reconciliation, donors' statements, test disputes;
- ``books``: months, the bank, exports, reports, the year-end pack, the checks of the books and audit trail;
- ``operations``: the worker and mail, backups, retention, database roles, running locally, the demo data.

``base`` holds the ``fund`` group itself, its guard on the database role, and what the commands share. The
demo data itself lives in ``fundapp.demo``; the scale seeder for benchmarks in ``benchmarks/scale.py``.
"""
from __future__ import annotations

from fundapp.cli import books, donations, operations, people  # noqa: F401  (each registers its commands)
from fundapp.cli.base import OWNER_COMMANDS, fund_cli

__all__ = ["OWNER_COMMANDS", "fund_cli"]
