"""Booking: Stripe's money facts into the books, once each, and the sweep that finds what the books lack.

Money is booked only from facts re-fetched from Stripe (``payments``), never from a form or an event's body.
Each movement is booked once: a charge is one donation (``stripe_charge_id`` is unique) and one journal entry
(source ``stripe.charge``); a refund is one entry (source ``stripe.refund``); a dispute's balance transaction one
(``stripe.dispute``); a payout one (``stripe.payout``). A repeated or reordered fact finds the work done and
changes nothing. Functions flush; the caller commits.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import Change, record_change, record_changes
from fundapp.donations import giving, portal, receipts
from fundapp.donations.giving import DonationError, find_or_create_donor, keep_address
from fundapp.donations.models import Donation, DonationStatus, Frequency, MonthlyGift, Origin, StripeEvent, WallStatus
from fundapp.donations.receipts import receipt_mail, send_receipt
from fundapp.extensions import db, utcnow
from fundapp.funds import clock
from fundapp.funds.models import Fund, FundNotInitialised
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry
from fundapp.mail import queue_mails
from fundapp.metrics import GIFTS_BOOKED, count_on_commit
from fundapp.money import format_cents
from fundapp.payments import events as stripe_events
from fundapp.payments import gateway
from fundapp.payments.facts import (
    ChargeHistory,
    CheckoutCompleted,
    CheckoutExpired,
    DisputeMovement,
    Fact,
    InvoiceUnpaid,
    NotConfirmed,
    PaymentFailed,
    PaymentSettled,
    PayoutFact,
    RefundSettled,
    RetryLater,
    SubscriptionChanged,
)


def booking_day(fund: Fund, day: date) -> date:
    """The money's own date, unless that month is closed: then the fund's today, in the open month (DESIGN 3)."""
    return day if not ledger.is_closed(fund, day) else clock.today(fund)


def _donations_for_payments(fund: Fund, facts: list[PaymentSettled]) -> list[Donation]:
    """For each charge, in order: the pending donation it pays, a new one for a monthly renewal, or one for a
    charge we did not start (the new ones added to the session). Candidates are read in one query; a donation
    an earlier charge of the batch pays counts as paid, as it would one charge at a time."""
    tokens = {fact.donation_token for fact in facts if fact.donation_token}
    intents = {fact.payment_intent_id for fact in facts if fact.payment_intent_id}
    subscriptions = {fact.subscription_id for fact in facts if fact.subscription_id}
    wanted = [column.in_(values) for column, values in ((Donation.token, tokens),
                                                       (Donation.stripe_payment_intent_id, intents),
                                                       (Donation.stripe_subscription_id, subscriptions)) if values]
    by_token: dict[str, Donation] = {}
    by_intent: dict[str, Donation] = {}
    by_subscription: dict[str, Donation] = {}
    if wanted:
        for found in db.session.scalars(db.select(Donation).where(Donation.fund_id == fund.id, db.or_(*wanted))
                                        .order_by(Donation.id)):
            by_token.setdefault(found.token, found)
            if found.stripe_payment_intent_id:
                by_intent.setdefault(found.stripe_payment_intent_id, found)
            if found.stripe_subscription_id:
                by_subscription.setdefault(found.stripe_subscription_id, found)
    paid_here: set[int] = set()
    chosen: list[Donation] = []
    for fact in facts:
        donation = None
        for found in (by_token.get(fact.donation_token or ""), by_intent.get(fact.payment_intent_id or ""),
                      by_subscription.get(fact.subscription_id or "")):
            if found is None:
                continue
            if found.stripe_charge_id is None and found.id not in paid_here:
                donation = found
                break
            if fact.subscription_id:  # a renewal: a new gift with the first one's choices
                donation = Donation(
                    fund_id=fund.id, donor=found.donor, frequency=Frequency.MONTHLY, origin=found.origin,
                    amount_cents=fact.gross_cents, fee_cover_cents=0, refunded_cents=0, currency=fund.currency,
                    language=found.language, anonymous=found.anonymous, wall_status=WallStatus.HIDDEN,
                    dedication_kind=found.dedication_kind, dedication_name=found.dedication_name,
                    stripe_subscription_id=fact.subscription_id)
                db.session.add(donation)
                break
        if donation is None:
            donor = find_or_create_donor(fund, fact.email, fact.name or "Anonymous")
            donation = Donation(fund_id=fund.id, donor=donor, origin=Origin.STRIPE, amount_cents=fact.gross_cents,
                                fee_cover_cents=0, refunded_cents=0, currency=fund.currency, anonymous=True,
                                wall_status=WallStatus.HIDDEN,
                                frequency=Frequency.MONTHLY if fact.subscription_id else Frequency.ONE_TIME,
                                stripe_subscription_id=fact.subscription_id, language=donor.language)
            db.session.add(donation)
        if donation.id is not None:
            paid_here.add(donation.id)
        chosen.append(donation)
    return chosen


def record_settled_payment(fund: Fund, fact: PaymentSettled, *, notify: bool = True) -> Donation:
    """Book a settled charge once (``record_settled_payments`` with one); ``notify=False`` only for made-up
    demo gifts."""
    return record_settled_payments(fund, [fact], notify=notify)[0]


def record_settled_payments(fund: Fund, facts: list[PaymentSettled], *, notify: bool = True) -> list[Donation]:
    """Book settled charges once each: each gift, its receipt number, its journal entry, its audit records and
    its receipt mail (queued; the sender renders the PDF after the commit). Returns each charge's gift, in order.

    Set-based, so a batch costs about the same round trips as one gift: one read of the charges booked, one of
    the gifts they pay, one UPDATE that claims and settles them all, the receipt numbers in one upsert per year,
    then the entries, audit records and mail each as one multi-row INSERT. The shared locks (the receipt counter,
    the audit chain, the day totals) come last, after the gifts are claimed. A charge booked already, here or
    by a concurrent delivery, gives its gift unchanged; a gift another charge paid meanwhile is ``RetryLater``."""
    for fact in facts:
        if fact.currency != fund.currency:
            raise DonationError(f"charge {fact.charge_id} is in {fact.currency}, the fund keeps {fund.currency}")
    charge_ids = list(dict.fromkeys(fact.charge_id for fact in facts))
    by_charge: dict[str, Donation] = {donation.stripe_charge_id: donation for donation in db.session.scalars(
        db.select(Donation).where(Donation.stripe_charge_id.in_(charge_ids)))}
    todo: list[PaymentSettled] = []
    for fact in facts:  # each charge once, where it first comes
        if fact.charge_id not in by_charge and all(fact.charge_id != other.charge_id for other in todo):
            todo.append(fact)
    if todo:
        gifts = _donations_for_payments(fund, todo)
        db.session.flush()  # the renewals and outside charges get their ids
        settled = _claim_and_settle(fund, todo, gifts, by_charge)
        if settled:
            _book_settled(fund, settled, notify=notify)
    return [by_charge[fact.charge_id] for fact in facts]


def _claim_and_settle(fund: Fund, facts: list[PaymentSettled], gifts: list[Donation],
                      by_charge: dict[str, Donation]) -> list[tuple[PaymentSettled, Donation]]:
    """Claim each gift for its charge and write what Stripe settled, by one conditional UPDATE per gift sent as
    one executemany: two deliveries of the same money at once each claim by it, the database lets one win, the
    other waits and then finds the gift booked (``by_charge`` gets it). A batch that loses any claim is
    ``RetryLater``, so its events are booked one by one, where a lost claim says which case it is. Then each
    year's receipt numbers, gapless, in the order of the charges."""
    settled_at = utcnow().replace(microsecond=0)
    days = {fact.charge_id: clock.local_date(fund, fact.at) for fact in facts}  # a gift at 23:30 on Dec 31 is that year's
    table = Donation.__table__
    rows = []
    for fact, gift in zip(facts, gifts, strict=True):
        adds_up = gift.amount_cents + gift.fee_cover_cents == fact.gross_cents  # else Stripe's figure is the truth
        day = days[fact.charge_id]
        rows.append({"b_id": gift.id, "b_charge": fact.charge_id, "b_intent": fact.payment_intent_id,
                     "b_invoice": fact.invoice_id, "b_subscription": fact.subscription_id,
                     "b_amount": gift.amount_cents if adds_up else fact.gross_cents,
                     "b_fee_cover": gift.fee_cover_cents if adds_up else 0, "b_gross": fact.gross_cents,
                     "b_fee": fact.fee_cents, "b_net": fact.net_cents, "b_day": day, "b_year": day.year})
    claimed_count = db.session.execute(
        sa.update(table).where(table.c.id == sa.bindparam("b_id"), table.c.stripe_charge_id.is_(None)).values(
            stripe_charge_id=sa.bindparam("b_charge"),
            stripe_payment_intent_id=sa.func.coalesce(sa.bindparam("b_intent"), table.c.stripe_payment_intent_id),
            stripe_invoice_id=sa.bindparam("b_invoice"),
            stripe_subscription_id=sa.func.coalesce(sa.bindparam("b_subscription"), table.c.stripe_subscription_id),
            amount_cents=sa.bindparam("b_amount"), fee_cover_cents=sa.bindparam("b_fee_cover"),
            gross_cents=sa.bindparam("b_gross"), fee_cents=sa.bindparam("b_fee"), net_cents=sa.bindparam("b_net"),
            status=DonationStatus.SUCCEEDED, failure_message="", received_on=sa.bindparam("b_day"),
            settled_at=settled_at, receipt_year=sa.bindparam("b_year")), rows).rowcount
    claimed = {gift.id for gift in gifts}
    if claimed_count != len(gifts):
        if len(gifts) > 1:
            raise RetryLater(f"{len(gifts) - claimed_count} of {len(gifts)} gifts were claimed meanwhile")
        paid_by = db.session.scalar(db.select(Donation.stripe_charge_id).where(Donation.id == gifts[0].id))
        if paid_by != facts[0].charge_id:
            raise RetryLater(f"gift {gifts[0].id} was paid by another charge meanwhile; retry")
        claimed = set()  # booked by a concurrent delivery of this charge: done
    mine = [(fact, gift) for fact, gift in zip(facts, gifts, strict=True) if gift.id in claimed]
    numbers: dict[int, int] = {}
    for year in dict.fromkeys(days[fact.charge_id].year for fact, _gift in mine):
        of_year = [gift.id for fact, gift in mine if days[fact.charge_id].year == year]
        numbers.update(zip(of_year, receipts.next_receipt_seqs(fund, year, len(of_year)), strict=True))
    if numbers:
        db.session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                           .values(receipt_seq=sa.bindparam("b_seq")),
                           [{"b_id": gift_id, "b_seq": seq} for gift_id, seq in numbers.items()])
    fresh = {gift.id: gift for gift in db.session.scalars(
        db.select(Donation).where(Donation.id.in_([gift.id for gift in gifts]))
        .execution_options(populate_existing=True))}
    for fact, gift in zip(facts, gifts, strict=True):
        by_charge[fact.charge_id] = fresh[gift.id]
    return [(fact, fresh[gift.id]) for fact, gift in mine]


def _book_settled(fund: Fund, settled: list[tuple[PaymentSettled, Donation]], *, notify: bool) -> None:
    """The claimed gifts' entries, audit records, monthly gifts and receipt mail."""
    for fact, donation in settled:
        keep_address(fund, donation, fact.address)
    closed = set(ledger.closed_months(fund))
    today = clock.today(fund)
    entries = []
    for fact, donation in settled:
        postings = [("Assets:Stripe", fact.net_cents), ("Income:Donations", -fact.gross_cents)]
        if fact.fee_cents:
            postings.insert(1, ("Expenses:PaymentFees", fact.fee_cents))
        day = donation.received_on
        entries.append(ledger.NewEntry(
            entry_date=today if f"{day:%Y-%m}" in closed else day,  # booking_day, with one read of the closed months
            memo=f"Gift {donation.receipt_number} by card ({fact.charge_id})", source_kind="stripe.charge",
            source_id=fact.charge_id, postings=tuple(postings)))
    ledger.post_entries(fund, entries)
    record_changes([Change("donation.settled", "donation", donation.id, fund_id=fund.id, after={
        "charge": fact.charge_id, "gross_cents": fact.gross_cents, "fee_cents": fact.fee_cents,
        "receipt": donation.receipt_number}) for fact, donation in settled])
    mail = []
    for _fact, donation in settled:
        count_on_commit(GIFTS_BOOKED, way="card")
        ensure_monthly_gift(fund, donation)
        if notify:
            mail.append(receipt_mail(fund, donation))
    queue_mails([row for row in mail if row is not None])
    db.session.flush()


def ensure_monthly_gift(fund: Fund, donation: Donation) -> None:
    if donation.stripe_subscription_id and db.session.scalar(db.select(MonthlyGift.id).filter_by(
            stripe_subscription_id=donation.stripe_subscription_id)) is None:
        try:
            with db.session.begin_nested():
                db.session.add(MonthlyGift(fund_id=fund.id, donor_id=donation.donor_id,
                                           stripe_subscription_id=donation.stripe_subscription_id,
                                           amount_cents=donation.gross_cents))
        except IntegrityError:
            pass  # a concurrent delivery made it


def record_refund(fund: Fund, fact: RefundSettled) -> Donation:
    """Book one refund's entry (once); the gift's refunded total is set by ``apply_refunds``."""
    donation = db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id, stripe_charge_id=fact.charge_id))
    if donation is None:
        raise RetryLater(f"refund {fact.refund_id} is for charge {fact.charge_id}, not booked yet")
    ledger.post_entry(fund, entry_date=booking_day(fund, clock.local_date(fund, fact.at)),
                      memo=f"Refund of gift {donation.receipt_number} ({fact.refund_id})",
                      source_kind="stripe.refund", source_id=fact.refund_id,
                      postings=[("Income:Donations", fact.amount_cents), ("Assets:Stripe", -fact.amount_cents)])
    return donation


def apply_refunds(fund: Fund, donation: Donation, total_cents: int) -> None:
    """Raise the gift's refunded total to Stripe's figure; when it grows, audit it and mail a corrected receipt.

    An absolute value set by a conditional UPDATE, so two deliveries at once neither add it twice nor mail twice.
    It only grows, as the books' refund entries do (a booked refund is never taken back): facts fetched before a
    refund booked meanwhile (a slow batch) say less, and must not set it back.
    """
    before = {"refunded_cents": donation.refunded_cents, "status": donation.status}
    status = (donation.status if donation.status == DonationStatus.DISPUTE_LOST else
              DonationStatus.REFUNDED if total_cents >= (donation.gross_cents or 0) else
              DonationStatus.PARTIALLY_REFUNDED if total_cents else donation.status)
    changed = db.session.execute(
        db.update(Donation).where(Donation.id == donation.id, Donation.refunded_cents < total_cents)
        .values(refunded_cents=total_cents, status=status).execution_options(synchronize_session=False)).rowcount
    db.session.refresh(donation)
    if changed:
        record_change("donation.refunded", "donation", donation.id, fund_id=fund.id, before=before,
                      after={"refunded_cents": total_cents, "status": status})
        send_receipt(fund, donation)


def apply_dispute_loss(fund: Fund, donation: Donation, lost_cents: int) -> None:
    """Set what a lost dispute took of the gift (the books took it when the dispute opened); when it changes,
    audit it and mail the donor a corrected receipt. A conditional UPDATE, as in ``apply_refunds``."""
    before = {"disputed_cents": donation.disputed_cents, "status": donation.status}
    changed = db.session.execute(
        db.update(Donation).where(Donation.id == donation.id, Donation.disputed_cents != lost_cents)
        .values(disputed_cents=lost_cents, status=DonationStatus.DISPUTE_LOST)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(donation)
    if changed:
        record_change("donation.dispute_lost", "donation", donation.id, fund_id=fund.id, before=before,
                      after={"disputed_cents": lost_cents, "status": DonationStatus.DISPUTE_LOST})
        send_receipt(fund, donation)


def record_charge_history(fund: Fund, history: ChargeHistory) -> None:
    """Everything Stripe says about one charge: the payment (if not yet booked), then each refund."""
    record_payments(fund, [history])


def record_payments(fund: Fund, facts: list[PaymentSettled | ChargeHistory]) -> None:
    """Settled charges, and charges' histories, booked together (a batch of the worker's events): the payments
    first, in one ``record_settled_payments``, then each history's refunds."""
    payments = [fact.payment if isinstance(fact, ChargeHistory) else fact for fact in facts]
    donations = record_settled_payments(fund, payments)
    for fact, donation in zip(facts, donations, strict=True):
        if isinstance(fact, ChargeHistory):
            for refund in fact.refunds:
                record_refund(fund, refund)
            total = sum(refund.amount_cents for refund in fact.refunds)
            if total > donation.refunded_cents:  # facts fetched before a refund booked meanwhile say less
                apply_refunds(fund, donation, total)


def record_dispute_movement(fund: Fund, movement: DisputeMovement) -> None:
    """Book money a dispute took (amount < 0, with the dispute fee) or gave back, once per balance transaction;
    once the dispute is lost, its withdrawal is what the donor's gift lost (``apply_dispute_loss``)."""
    if movement.currency != fund.currency:
        raise DonationError(f"dispute {movement.dispute_id} is in {movement.currency}, not {fund.currency}")
    if ledger.find_entry(fund, "stripe.dispute", movement.balance_transaction_id) is None:
        _book_dispute_movement(fund, movement)
    if movement.status == "lost" and movement.amount_cents < 0:
        # A lost dispute has its withdrawal and no reinstatement (Stripe allows one dispute per charge).
        donation = db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id,
                                                                   stripe_charge_id=movement.charge_id))
        if donation is not None:
            apply_dispute_loss(fund, donation, -movement.amount_cents)


def _book_dispute_movement(fund: Fund, movement: DisputeMovement) -> None:
    net = movement.amount_cents - movement.fee_cents
    postings = [("Assets:Stripe", net), ("Income:Donations", -movement.amount_cents)]
    if movement.fee_cents:
        postings.append(("Expenses:PaymentFees", movement.fee_cents))
    postings = [(account, cents) for account, cents in postings if cents]
    what = "withdrawn" if movement.amount_cents < 0 else "reinstated"
    ledger.post_entry(fund, entry_date=booking_day(fund, clock.local_date(fund, movement.at)),
                      memo=f"Dispute {movement.dispute_id} on {movement.charge_id}: funds {what}",
                      source_kind="stripe.dispute", source_id=movement.balance_transaction_id, postings=postings)
    donation = db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id, stripe_charge_id=movement.charge_id))
    record_change(f"donation.dispute_{what}", "donation", donation.id if donation else movement.charge_id,
                  fund_id=fund.id, after={"dispute": movement.dispute_id, "amount_cents": movement.amount_cents,
                                          "fee_cents": movement.fee_cents})


def record_payout(fund: Fund, payout: PayoutFact) -> None:
    """A payout moves money from the Stripe balance to the bank; one that fails after being paid comes back.

    On an installation of several funds the payout carried several funds' gifts: it is split by them
    (``record_split_payout``)."""
    if payout.currency != fund.currency:
        raise DonationError(f"payout {payout.payout_id} is in {payout.currency}, not {fund.currency}")
    if payout.status not in ("paid", "failed"):
        return
    if db.session.scalar(db.select(db.func.count(Fund.id))) > 1:
        record_split_payout(payout)
        return
    _book_payout(fund, payout, [("Assets:Bank", payout.amount_cents), ("Assets:Stripe", -payout.amount_cents)])


def _book_payout(fund: Fund, payout: PayoutFact, postings: list[tuple[str, int]], memo: str = "") -> None:
    entry = ledger.post_entry(fund, entry_date=booking_day(fund, payout.day),
                              memo=f"Stripe payout {payout.payout_id}{memo}", source_kind="stripe.payout",
                              source_id=payout.payout_id, postings=[(name, cents) for name, cents in postings if cents])
    if payout.status == "failed" and ledger.find_entry(fund, "reversal", entry.id) is None:
        ledger.reverse_entry(entry, entry_date=booking_day(fund, clock.today(fund)),
                             memo=f"Stripe payout {payout.payout_id} failed: the money is back in the Stripe balance")


#: In a fund's books, the money the host holds for it (another fund's share of a payout that reached the host's
#: bank); in the host's own fund (the installation's, ``FUND_SLUG``, whose bank receives every payout), the
#: same money as what it owes the others. Across the funds the two always cancel out.
HOST_CLEARING_ASSET = "Assets:HostClearing"
HOST_CLEARING_LIABILITY = "Liabilities:HostClearing"

#: The entries whose source a payout's balance transaction names: which fund's books hold it.
_LINE_SOURCES = ("stripe.charge", "stripe.refund", "stripe.dispute")


def payout_shares(payout: PayoutFact) -> dict[int, int]:
    """Each fund's share of a payout, by fund id: the net of the balance transactions it carried that the fund's
    books hold. RetryLater while one is not booked yet (a gift still on its way, or on the host's to-be-assigned
    list); NotConfirmed for a payout whose contents Stripe does not list (a manual one) or do not add up to it."""
    if payout.lines is None:
        raise NotConfirmed(f"payout {payout.payout_id} is a manual payout: Stripe does not list what it carried, "
                           "so it cannot be split across the funds; book each fund's share by hand")
    shares: dict[int, int] = {}
    fund_ids = list(db.session.scalars(db.select(Fund.id)))  # named, so each look-up uses the entries' index
    for line in payout.lines:
        ids = [found for found in (line.source_id, line.transaction_id) if found]
        fund_id = db.session.scalar(db.select(JournalEntry.fund_id).where(
            JournalEntry.fund_id.in_(fund_ids), JournalEntry.source_kind.in_(_LINE_SOURCES),
            JournalEntry.source_id.in_(ids)).limit(1)) if ids else None
        if fund_id is None:
            raise RetryLater(f"payout {payout.payout_id} carried {line.type} {line.source_id or line.transaction_id},"
                             " which no fund's books hold yet")
        shares[fund_id] = shares.get(fund_id, 0) + line.amount_cents - line.fee_cents
    if sum(shares.values()) != payout.amount_cents:
        raise NotConfirmed(f"payout {payout.payout_id} is {payout.amount_cents} cents, but what it carried adds up "
                           f"to {sum(shares.values())}")
    return shares


def record_split_payout(payout: PayoutFact) -> None:
    """Book a payout across the funds whose money it carried. It reaches the host's bank, which is the host fund's
    (the installation's own, ``FUND_SLUG``): that fund books the whole amount into its bank, its own share out of
    its Stripe balance and the rest as owed to the other funds (``Liabilities:HostClearing``); each other fund books
    its share out of its Stripe balance as held by the host (``Assets:HostClearing``). Every fund's entry balances
    on its own, and the clearing accounts cancel out across the funds."""
    from fundapp.funds.mount import installation_slug

    shares = payout_shares(payout)
    host = db.session.scalar(db.select(Fund).filter_by(slug=installation_slug()))
    if host is None:
        raise FundNotInitialised(f"The host fund {installation_slug()!r}")
    others = {fund_id: cents for fund_id, cents in shares.items() if fund_id != host.id}
    for fund_id in sorted(others):
        fund = db.session.get(Fund, fund_id)
        if fund.currency != payout.currency:
            raise DonationError(f"payout {payout.payout_id} is in {payout.currency}, not {fund.currency}")
        ledger.open_account(fund, HOST_CLEARING_ASSET)
        _book_payout(fund, payout, [(HOST_CLEARING_ASSET, others[fund_id]), ("Assets:Stripe", -others[fund_id])],
                     memo=": this fund's share, received by the host's bank")
    if others:
        ledger.open_account(host, HOST_CLEARING_LIABILITY)
    _book_payout(host, payout, [("Assets:Bank", payout.amount_cents), ("Assets:Stripe", -shares.get(host.id, 0)),
                                (HOST_CLEARING_LIABILITY, -sum(others.values()))],
                 memo=" (with the other funds' shares, held for them)" if others else "")


@dataclass
class Reconciliation:
    charges_seen: int = 0
    payments_booked: int = 0
    refunds_booked: int = 0
    disputes_booked: int = 0
    payouts_booked: int = 0
    #: Stored events whose objects Stripe does not know (or in another API version): never booked.
    not_booked: int = 0
    #: Payments that named no fund, on an installation of several: left for the host to assign.
    named_no_fund: int = 0


#: How the worker marks a stored event that must not be booked (its reason follows); it waits on the queue page.
NOT_BOOKED = "Not booked: "


def not_booked_count() -> int:
    """Stored events Stripe did not confirm (or in another API version): nothing of them was booked."""
    return db.session.scalar(db.select(db.func.count()).select_from(StripeEvent).where(
        StripeEvent.processed_at.is_(None), StripeEvent.last_error.startswith(NOT_BOOKED))) or 0


def reconcile_stripe(fund: Fund, since) -> Reconciliation:
    """Sweep Stripe's charges, disputes and payouts since ``since`` and book whatever the books lack (a lost
    webhook, the app down, a refund made in the dashboard). Idempotent: a second run books nothing.

    Each fact is booked in the fund it names (``filing``), as the worker would; ``fund`` (the installation's own)
    takes what names none on an installation of one fund, and a payment naming no fund on an installation of several
    is left for the host (counted in ``named_no_fund``), as the webhook's copy of it waits on the host's list."""
    from fundapp.donations import filing

    kinds = ("stripe.charge", "stripe.refund", "stripe.dispute", "stripe.payout")
    funds = filing.FundIds()

    def counts() -> list[int]:
        return [db.session.scalar(db.select(db.func.count(JournalEntry.id)).where(
            JournalEntry.fund_id.in_(funds.ids), JournalEntry.source_kind == kind)) for kind in kinds]

    def fund_of(fact: Fact) -> Fund | None:
        fund_id = filing.fund_for_event([fact], stored_fund_id=fund.id, assigned=False, funds=funds)
        return None if fund_id is None or fund_id == filing.UNASSIGNED else db.session.get(Fund, fund_id)

    before = counts()
    named_no_fund = 0
    charge_ids = gateway.charge_ids_since(since)
    for charge_id in charge_ids:
        history = stripe_events.charge_history(charge_id)
        if history is None:
            continue
        target = fund_of(history)
        if target is None:
            named_no_fund += 1
        else:
            record_charge_history(target, history)
    for fact in stripe_events.disputes_since(since):
        apply_fact(fund_of(fact) or fund, fact)
    for payout in stripe_events.payouts_since(since):
        if payout.currency == fund.currency:  # the local test server pays out only in euros
            if funds.several:  # split by what it carried, which the listing does not say
                payout = gateway.payout_fact(payout.payout_id, with_lines=True)
            record_payout(fund, payout)
    after = counts()
    return Reconciliation(len(charge_ids), *(a - b for a, b in zip(after, before, strict=True)),
                          not_booked=not_booked_count(), named_no_fund=named_no_fund)


def check_refund(donation: Donation, amount_cents: int) -> None:
    """Refuse a refund of a gift not received by card, or of more than is left of it."""
    if donation.stripe_charge_id is None or donation.gross_cents is None:
        raise DonationError(_("Only a card gift that has been received can be refunded through Stripe."), "amount")
    left = donation.gross_cents - donation.refunded_cents - donation.disputed_cents
    if not 0 < amount_cents <= left:
        raise DonationError(_("You can refund between $0.01 and %(left)s of this gift.",
                              left=format_cents(left, donation.currency)), "amount")


def request_refund(fund: Fund, donation: Donation, amount_cents: int, *, actor) -> None:
    """Refund through Stripe, then book what Stripe reports (its webhook later finds it done)."""
    check_refund(donation, amount_cents)
    refund_id = gateway.refund_charge(donation.stripe_charge_id, amount_cents,
                                      idempotency_key=f"refund-{donation.id}-{donation.refunded_cents}-{amount_cents}")
    record_change("donation.refund_requested", "donation", donation.id, actor=actor, fund_id=fund.id,
                  after={"amount_cents": amount_cents, "refund": refund_id})
    _book_charge(fund, donation.stripe_charge_id)


def _book_charge(fund: Fund, charge_id: str) -> None:
    history = stripe_events.charge_history(charge_id)
    if history is not None:
        record_charge_history(fund, history)


#: What each fact does, by its type: the one table of what Stripe's news does to the fund.
APPLY: dict[type, Callable[[Fund, Any], object]] = {
    PaymentSettled: record_settled_payment,
    ChargeHistory: record_charge_history,
    DisputeMovement: record_dispute_movement,
    PayoutFact: record_payout,
    CheckoutCompleted: giving.link_checkout,
    CheckoutExpired: giving.checkout_expired,
    PaymentFailed: giving.payment_failed,
    SubscriptionChanged: portal.subscription_changed,
    InvoiceUnpaid: portal.invoice_payment_failed,
}


def apply_fact(fund: Fund, fact: Fact) -> None:
    """Do what a fact from Stripe says (``payments.events`` made it); flushes. Idempotent, as booking is."""
    APPLY[type(fact)](fund, fact)
