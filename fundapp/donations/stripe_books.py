"""The treasurer's disputes and payouts, as the books hold them, with what Stripe says of each now.

Read-only: nothing here writes. The money figures are the books' (journal entries of source kind
``stripe.dispute`` and ``stripe.payout``, summed from their postings); Stripe only adds what the books do
not keep (a dispute's status and evidence deadline, a payout's arrival and what it carried). When Stripe
cannot be asked, the rows are the books' alone and ``stripe_error`` says so: a page never fails for it.

A dispute's entries are found by their memo, which ``booking._book_dispute_movement`` writes as
"Dispute <dispute id> on <charge id>: funds withdrawn|reinstated" (the entry's source id is the balance
transaction, one per movement).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from flask import current_app

from fundapp.donations.models import Donation
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry
from fundapp.payments import gateway, pages
from fundapp.payments.facts import DisputeState, PayoutLine, PayoutState

DISPUTE_MEMO = re.compile(r"^Dispute (?P<dispute>\S+) on (?P<charge>\S+): funds (?P<what>withdrawn|reinstated)$")


@dataclass
class DisputeRow:
    dispute_id: str
    charge_id: str
    opened_on: date
    withdrawn_cents: int = 0  # what Stripe took from the balance for it (positive)
    reinstated_cents: int = 0  # what it gave back when the dispute was won
    fee_cents: int = 0  # the dispute fee (an expense, kept even when won)
    gift: Donation | None = None
    stripe: DisputeState | None = None


@dataclass
class PayoutRow:
    payout_id: str
    booked_on: date
    amount_cents: int  # to the bank, by the books
    #: Set when the payout failed after being paid and its entry was reversed (the money is back in Stripe).
    reversed_on: date | None = None
    stripe: PayoutState | None = None
    #: (gift or None, balance transaction) for each charge Stripe says the payout carried.
    gifts: list[tuple[Donation | None, PayoutLine]] = field(default_factory=list)
    #: Whatever else it carried: refunds, disputes, fees (their net, negative for money out).
    other_cents: int = 0
    #: The bank statement line the payout arrived as (its date and description), once matched on /admin/bank.
    bank_match: tuple[date, str] | None = None


def _amount(entry: JournalEntry, account: str) -> int:
    return sum(p.amount_cents for p in entry.postings if p.account.name == account)


def _gifts_by_charge(fund: Fund, charge_ids: set[str]) -> dict[str, Donation]:
    if not charge_ids:
        return {}
    return {d.stripe_charge_id: d for d in db.session.scalars(db.select(Donation).filter(
        Donation.fund_id == fund.id, Donation.stripe_charge_id.in_(charge_ids))) if d.stripe_charge_id}


def _entries(fund: Fund, source_kind: str) -> list[JournalEntry]:
    return list(db.session.scalars(db.select(JournalEntry).filter_by(fund_id=fund.id, source_kind=source_kind)
                                   .order_by(JournalEntry.entry_date.desc(), JournalEntry.id.desc())))


def fund_disputes(fund: Fund) -> tuple[list[DisputeRow], bool]:
    """Every dispute the books hold, newest first, with Stripe's state; and whether Stripe could not be asked."""
    rows: dict[str, DisputeRow] = {}
    for entry in reversed(_entries(fund, "stripe.dispute")):  # oldest first: a dispute opens on its withdrawal
        memo = DISPUTE_MEMO.match(entry.memo)
        if memo is None:
            continue
        row = rows.setdefault(memo["dispute"], DisputeRow(memo["dispute"], memo["charge"], entry.entry_date))
        taken = _amount(entry, "Income:Donations")  # a withdrawal undoes the gift's income: a debit
        if memo["what"] == "withdrawn":
            row.withdrawn_cents += taken
        else:
            row.reinstated_cents -= taken
        row.fee_cents += _amount(entry, "Expenses:PaymentFees")
    gifts = _gifts_by_charge(fund, {row.charge_id for row in rows.values()})
    for row in rows.values():
        row.gift = gifts.get(row.charge_id)
    stripe_error = False
    if rows:
        try:
            states = pages.dispute_states(list(rows))
        except gateway.GatewayError:
            current_app.logger.warning("could not read the disputes' status from Stripe", exc_info=True)
            states, stripe_error = {}, True
        for row in rows.values():
            row.stripe = states.get(row.dispute_id)
    return sorted(rows.values(), key=lambda r: (r.opened_on, r.dispute_id), reverse=True), stripe_error


def fund_payouts(fund: Fund) -> tuple[list[PayoutRow], bool]:
    """Every payout the books hold, newest first, with Stripe's state and the gifts it carried; and whether
    Stripe could not be asked."""
    entries = _entries(fund, "stripe.payout")
    reversals = {entry.reversal_of_id: entry for entry in db.session.scalars(db.select(JournalEntry).filter(
        JournalEntry.reversal_of_id.in_([e.id for e in entries])))} if entries else {}
    on_statement = ledger.cleared(fund, [entry.id for entry in entries])
    rows = [PayoutRow(entry.source_id, entry.entry_date, _amount(entry, "Assets:Bank"),
                      reversed_on=reversals[entry.id].entry_date if entry.id in reversals else None,
                      bank_match=on_statement.get(entry.id)) for entry in entries]
    stripe_error = False
    if rows:
        try:
            states = pages.payout_states([row.payout_id for row in rows])
        except gateway.GatewayError:
            current_app.logger.warning("could not read the payouts from Stripe", exc_info=True)
            states, stripe_error = {}, True
        lines = [line for state in states.values() for line in state.lines or ()]
        gifts = _gifts_by_charge(fund, {line.source_id for line in lines
                                        if line.type in ("charge", "payment") and line.source_id})
        for row in rows:
            row.stripe = states.get(row.payout_id)
            for line in (row.stripe.lines or ()) if row.stripe else ():
                if line.type in ("charge", "payment"):
                    row.gifts.append((gifts.get(line.source_id or ""), line))
                else:
                    row.other_cents += line.amount_cents - line.fee_cents
    return rows, stripe_error
