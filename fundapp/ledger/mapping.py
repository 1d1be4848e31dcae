"""Each fund's mapping of its ledger accounts to the union's own chart in QuickBooks Online and Xero.

The journal import files (``exports.write_quickbooks``, ``exports.write_xero``) name each posting's account
by this mapping; an account left unmapped goes out under our own name ("Assets:Bank"), which the other
product refuses until the treasurer maps it or creates an account of that name there. Every save that
changes something is one audit record holding the accounts changed, before and after. Functions flush;
callers commit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from fundapp.audit.services import record_change
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger.models import CHART, AccountMapping
from fundapp.ledger.services import LedgerError, chart

QUICKBOOKS_MAX = 100
XERO_CODE_MAX = 10  # Xero's limit on an account code
#: A Xero account code: letters, digits and a few marks, no spaces ("200", "SALES-1").
XERO_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class MappingError(LedgerError):
    """A mapping the other product cannot take; ``account`` and ``target`` name the field."""

    def __init__(self, message: str, account: str, target: str):
        super().__init__(message)
        self.account, self.target = account, target


@dataclass(frozen=True)
class Mapped:
    """One of our accounts and where it goes ("" when unmapped)."""

    account: str
    account_id: int
    quickbooks: str
    xero: str


def account_mappings(fund: Fund) -> list[Mapped]:
    """Every account of the fund with its mapping, the standard chart first."""
    accounts = chart(fund)
    held = {m.account_id: m for m in db.session.scalars(db.select(AccountMapping).filter_by(fund_id=fund.id))}
    result = []
    for name in sorted(accounts, key=lambda n: (n not in CHART, CHART.index(n) if n in CHART else 0, n)):
        mapping = held.get(accounts[name].id)
        result.append(Mapped(name, accounts[name].id, mapping.quickbooks_account if mapping else "",
                             mapping.xero_account_code if mapping else ""))
    return result


def quickbooks_names(fund: Fund) -> dict[str, str]:
    """Our account name -> the name the QuickBooks file uses (ours when unmapped)."""
    return {m.account: m.quickbooks or m.account for m in account_mappings(fund)}


def xero_codes(fund: Fund) -> dict[str, str]:
    """Our account name -> the code the Xero file uses (our name when unmapped)."""
    return {m.account: m.xero or m.account for m in account_mappings(fund)}


def unmapped(fund: Fund, target: str) -> list[str]:
    """Our accounts with no mapping for ``target`` ("quickbooks" or "xero")."""
    return [m.account for m in account_mappings(fund) if not getattr(m, target)]


def validate_mapping(account: str, quickbooks: str, xero: str) -> None:
    if len(quickbooks) > QUICKBOOKS_MAX or CONTROL.search(quickbooks):
        raise MappingError(_("A QuickBooks account name is at most %(n)s characters on one line.", n=QUICKBOOKS_MAX),
                           account, "quickbooks")
    if quickbooks.startswith(("=", "+", "-", "@")):
        raise MappingError(_("A QuickBooks account name cannot start with =, +, - or @."), account, "quickbooks")
    if quickbooks.startswith(":") or quickbooks.endswith(":") or "::" in quickbooks:
        raise MappingError(_("Write a QuickBooks sub-account as Parent:Sub, with both names."), account, "quickbooks")
    if xero and (len(xero) > XERO_CODE_MAX or not XERO_CODE.fullmatch(xero) or xero != xero.strip()):
        raise MappingError(_("A Xero account code is the code alone (such as 200), at most %(n)s letters or "
                             "digits.", n=XERO_CODE_MAX), account, "xero")


def update_account_mappings(fund: Fund, values: dict[str, tuple[str, str]], *, actor: object) -> dict[str, Any]:
    """Save the mapping of each account named in ``values`` ({our name: (QuickBooks name, Xero code)}); one
    audit record of what changed. Nothing is saved when any value is refused. Returns the changed accounts."""
    current = {m.account: m for m in account_mappings(fund)}
    cleaned = {}
    for name, (quickbooks, xero) in values.items():
        if name not in current:
            raise MappingError(_("%(account)s is not one of the fund's accounts.", account=name), name, "quickbooks")
        quickbooks, xero = " ".join((quickbooks or "").split()), (xero or "").strip()
        validate_mapping(name, quickbooks, xero)
        cleaned[name] = (quickbooks, xero)
    before, after = {}, {}
    held = {m.account_id: m for m in db.session.scalars(db.select(AccountMapping).filter_by(fund_id=fund.id))}
    for name, (quickbooks, xero) in cleaned.items():
        was = current[name]
        if (was.quickbooks, was.xero) == (quickbooks, xero):
            continue
        before[name] = {"quickbooks": was.quickbooks, "xero": was.xero}
        after[name] = {"quickbooks": quickbooks, "xero": xero}
        row = held.get(was.account_id)
        if row is None:
            row = AccountMapping(fund_id=fund.id, account_id=was.account_id)
            db.session.add(row)
        row.quickbooks_account, row.xero_account_code = quickbooks, xero
    if after:
        db.session.flush()
        record_change("ledger.account_mapping", "fund", fund.id, actor=actor, fund_id=fund.id, before=before,
                      after=after)
    return after
