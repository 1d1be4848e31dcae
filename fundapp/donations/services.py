"""Giving and booking: pending donations, Stripe's money facts into the books, receipts.

Money is booked only from facts re-fetched from Stripe (``payments.gateway``),
never from a form or an event's body. Each movement is booked once: a charge
is one donation (``stripe_charge_id`` is unique) and one journal entry
(source ``stripe.charge``); a refund is one entry (source ``stripe.refund``).
A repeated or reordered event finds the work done and changes nothing.
Functions flush; the caller commits.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import record_change
from fundapp.donations.models import (
    Deposit,
    Donation,
    DonationStatus,
    Donor,
    Frequency,
    MonthlyGift,
    Origin,
    ReceiptCounter,
    StatementSent,
    StripeEvent,
    WallStatus,
)
from fundapp.extensions import begin_write, db, utcnow
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.funds.services import receipt_placeholders, receipts_held
from fundapp.ledger import services as ledger
from fundapp.mail import OutboxMessage, public_link, queue_mail, queue_request, request_handler
from fundapp.money import format_cents
from fundapp.payments import gateway
from fundapp.payments.facts import DisputeMovement, PaymentSettled, PayoutFact, PostalAddress, RefundSettled
from fundapp.pdf_text import LANGUAGES, page_words, receipt_words, statement_words
from reports import receipt as receipt_pdf
from reports import statement as statement_pdf

DEDICATIONS = ("", "honor", "memory")
#: A gift of this much or more (cents) asks for the donor's postal address: Form 990 Schedule B lists each donor
#: who gave $5,000 or more in the year, with their name and address.
LARGE_GIFT_CENTS = 500_000


class DonationError(ValueError):
    """A gift the fund cannot take as asked; the message is for the donor, ``field`` says where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def tax_statement(fund: Fund, language: str | None = None) -> str:
    """What a gift to the fund means for the donor's taxes, set by its legal form, in ``language`` (the
    page's by default): for a 501(c)(5) union the statement 26 U.S.C. 6113 asks of every solicitation (gifts
    are not deductible as charitable contributions), for a 501(c)(3) that they are. The wording is the
    receipts' own (``reports.receipt``), so a solicitation and its receipt never say different things."""
    language = language or str(get_locale() or "en")
    return receipt_pdf.deductibility_text(receipt_words(language), fund.legal_form, fund.legal_name, fund.ein)


def fee_cover(amount_cents: int, basis_points: int, fixed_cents: int) -> int:
    """What to add so that, after a fee of ``basis_points``/10000 of the total plus ``fixed_cents``,
    the fund receives at least ``amount_cents``: total = ceil((amount + fixed) / (1 - rate))."""
    total = -(-(amount_cents + fixed_cents) * 10_000 // (10_000 - basis_points))
    return total - amount_cents


def fee_cover_for(amount_cents: int) -> int:
    config = current_app.config
    return fee_cover(amount_cents, config["CARD_FEE_BASIS_POINTS"], config["CARD_FEE_FIXED_CENTS"])


@dataclass(frozen=True)
class GiftRequest:
    amount_cents: int
    monthly: bool
    cover_fee: bool
    name: str
    email: str
    anonymous: bool = False
    on_wall: bool = False
    wall_message: str = ""
    dedication_kind: str = ""
    dedication_name: str = ""
    language: str = "en"


def find_or_create_donor(fund: Fund, email: str, name: str, language: str = "en") -> Donor:
    email = email.strip().lower()
    donor = db.session.scalar(db.select(Donor).filter_by(fund_id=fund.id, email=email))
    if donor is None:
        donor = Donor(fund_id=fund.id, email=email, name=name.strip()[:200] or "Anonymous", language=language)
        try:
            with db.session.begin_nested():
                db.session.add(donor)
        except IntegrityError:  # a concurrent request made the same donor
            donor = db.session.scalar(db.select(Donor).filter_by(fund_id=fund.id, email=email))
    elif name.strip():
        donor.name, donor.language = name.strip()[:200], language
    return donor


def start_donation(fund: Fund, gift: GiftRequest) -> Donation:
    """A pending donation, before the donor pays; nothing is booked until Stripe says it settled."""
    config = current_app.config
    if gift.amount_cents < config["DONATION_MIN_CENTS"]:
        raise DonationError(_("The smallest gift we can take by card is %(min)s.",
                              min=format_cents(config["DONATION_MIN_CENTS"], fund.currency)), "amount")
    if gift.amount_cents > config["DONATION_MAX_CENTS"]:
        raise DonationError(_("For a gift above %(max)s, please write to %(email)s and we will arrange it.",
                              max=format_cents(config["DONATION_MAX_CENTS"], fund.currency),
                              email=fund.contact_email), "amount")
    if gift.dedication_kind not in DEDICATIONS:
        raise DonationError(_("Choose how to dedicate the gift."), "dedication_kind")
    if gift.dedication_kind and not gift.dedication_name.strip():
        raise DonationError(_("Write the name of the person the gift honours or remembers."), "dedication_name")
    donor = find_or_create_donor(fund, gift.email, gift.name, gift.language)
    donation = Donation(
        fund_id=fund.id, donor=donor, status=DonationStatus.PENDING,
        frequency=Frequency.MONTHLY if gift.monthly else Frequency.ONE_TIME, origin=Origin.APP,
        amount_cents=gift.amount_cents, fee_cover_cents=fee_cover_for(gift.amount_cents) if gift.cover_fee else 0,
        currency=fund.currency, language=gift.language, anonymous=gift.anonymous,
        wall_status=WallStatus.WAITING if gift.on_wall else WallStatus.HIDDEN,
        wall_message=gift.wall_message.strip()[:200] if gift.on_wall else "",
        dedication_kind=gift.dedication_kind, dedication_name=gift.dedication_name.strip()[:200])
    db.session.add(donation)
    db.session.flush()
    record_change("donation.start", "donation", donation.id, fund_id=fund.id,
                  after={"amount_cents": donation.amount_cents, "fee_cover_cents": donation.fee_cover_cents,
                         "frequency": donation.frequency})
    return donation


def checkout_metadata(donation: Donation) -> dict:
    return {"donation": donation.token, "fund": str(donation.fund_id)}


def mark_failed(donation: Donation, message: str) -> None:
    if donation.status in (DonationStatus.PENDING, DonationStatus.PROCESSING):
        donation.status = DonationStatus.FAILED
        donation.failure_message = message[:300]
        record_change("donation.failed", "donation", donation.id, fund_id=donation.fund_id,
                      after={"message": donation.failure_message})


def retry_donation(donation: Donation) -> None:
    """A donor who was declined tries again with another card: the gift is pending once more."""
    if donation.status == DonationStatus.FAILED:
        donation.status, donation.failure_message = DonationStatus.PENDING, ""


# --- booking Stripe's facts -------------------------------------------------------------------


def _booking_day(fund: Fund, day: date) -> date:
    """The money's own date, unless that month is closed: then the fund's today, in the open month (DESIGN 3)."""
    return day if not ledger.is_closed(fund, day) else clock.today(fund)


def _next_receipt_seq(fund: Fund, year: int) -> int:
    query = db.select(ReceiptCounter).filter_by(fund_id=fund.id, year=year).with_for_update()
    counter = db.session.scalar(query)
    if counter is None:
        try:
            with db.session.begin_nested():
                db.session.add(ReceiptCounter(fund_id=fund.id, year=year, last=0))
        except IntegrityError:
            pass
        counter = db.session.scalar(query)
    counter.last += 1
    db.session.flush()
    return counter.last


def _donation_for_payment(fund: Fund, fact: PaymentSettled) -> Donation:
    """The pending donation this charge pays, a new one for a monthly renewal, or one for a charge we did not start."""
    token = (fact.metadata or {}).get("donation")
    candidates = []
    if token:
        candidates.append(db.select(Donation).filter_by(fund_id=fund.id, token=token))
    if fact.payment_intent_id:
        candidates.append(db.select(Donation).filter_by(fund_id=fund.id, stripe_payment_intent_id=fact.payment_intent_id))
    if fact.subscription_id:
        candidates.append(db.select(Donation).filter_by(fund_id=fund.id, stripe_subscription_id=fact.subscription_id)
                          .order_by(Donation.id))
    for query in candidates:
        found = db.session.scalars(query).first()
        if found is None:
            continue
        if found.stripe_charge_id is None:
            return found
        if fact.subscription_id:  # a renewal: a new gift with the first one's choices
            renewal = Donation(
                fund_id=fund.id, donor=found.donor, frequency=Frequency.MONTHLY, origin=found.origin,
                amount_cents=fact.gross_cents, fee_cover_cents=0, refunded_cents=0, currency=fund.currency,
                language=found.language,
                anonymous=found.anonymous, wall_status=WallStatus.HIDDEN, dedication_kind=found.dedication_kind,
                dedication_name=found.dedication_name, stripe_subscription_id=fact.subscription_id)
            db.session.add(renewal)
            return renewal
    donor = find_or_create_donor(fund, fact.email, fact.name or "Anonymous")
    external = Donation(fund_id=fund.id, donor=donor, origin=Origin.STRIPE, amount_cents=fact.gross_cents,
                        fee_cover_cents=0, refunded_cents=0,
                        currency=fund.currency, anonymous=True, wall_status=WallStatus.HIDDEN,
                        frequency=Frequency.MONTHLY if fact.subscription_id else Frequency.ONE_TIME,
                        stripe_subscription_id=fact.subscription_id, language=donor.language)
    db.session.add(external)
    return external


def record_settled_payment(fund: Fund, fact: PaymentSettled, *, notify: bool = True) -> Donation:
    """Book a settled charge once: the donation, its receipt number, its journal entry, its receipt mail
    (``notify=False`` only for made-up demo gifts)."""
    existing = db.session.scalar(db.select(Donation).filter_by(stripe_charge_id=fact.charge_id))
    if existing is not None:
        return existing
    if fact.currency != fund.currency:
        raise ledger.LedgerError(f"charge {fact.charge_id} is in {fact.currency}, the fund keeps {fund.currency}")
    donation = _donation_for_payment(fund, fact)
    if donation.id is not None:
        # Two deliveries of the same money can run at once. Claim the gift with a conditional UPDATE:
        # the database lets one win; the other waits for it and then finds the gift booked.
        claimed = db.session.execute(
            db.update(Donation).where(Donation.id == donation.id, Donation.stripe_charge_id.is_(None))
            .values(stripe_charge_id=fact.charge_id).execution_options(synchronize_session=False)).rowcount
        db.session.refresh(donation)
        if not claimed:
            if donation.stripe_charge_id == fact.charge_id:
                return donation
            raise gateway.FactsIncomplete(f"gift {donation.id} was paid by another charge meanwhile; retry")
    if donation.amount_cents + donation.fee_cover_cents != fact.gross_cents:
        # Stripe's figure is the truth; keep the donor's choice only when it adds up.
        donation.amount_cents, donation.fee_cover_cents = fact.gross_cents, 0
    donation.stripe_charge_id = fact.charge_id
    donation.stripe_payment_intent_id = fact.payment_intent_id or donation.stripe_payment_intent_id
    donation.stripe_invoice_id = fact.invoice_id
    donation.stripe_subscription_id = fact.subscription_id or donation.stripe_subscription_id
    donation.gross_cents, donation.fee_cents, donation.net_cents = fact.gross_cents, fact.fee_cents, fact.net_cents
    donation.status = DonationStatus.SUCCEEDED
    donation.failure_message = ""
    day = clock.local_date(fund, fact.at)  # the fund's day: a gift at 23:30 on December 31 is that year's
    donation.received_on = day
    donation.settled_at = utcnow().replace(microsecond=0)
    donation.receipt_year = day.year
    donation.receipt_seq = _next_receipt_seq(fund, day.year)
    _keep_address(fund, donation, fact.address)
    db.session.flush()
    postings = [("Assets:Stripe", fact.net_cents), ("Income:Donations", -fact.gross_cents)]
    if fact.fee_cents:
        postings.insert(1, ("Expenses:PaymentFees", fact.fee_cents))
    ledger.post_entry(fund, entry_date=_booking_day(fund, day),
                      memo=f"Gift {donation.receipt_number} by card ({fact.charge_id})",
                      source_kind="stripe.charge", source_id=fact.charge_id, postings=postings)
    record_change("donation.settled", "donation", donation.id, fund_id=fund.id,
                  after={"charge": fact.charge_id, "gross_cents": fact.gross_cents, "fee_cents": fact.fee_cents,
                         "receipt": donation.receipt_number})
    _ensure_monthly_gift(fund, donation)
    if notify:
        send_receipt(fund, donation)
    return donation


def record_refund(fund: Fund, fact: RefundSettled) -> Donation:
    """Book one refund's entry (once); the gift's refunded total is set by ``apply_refunds``."""
    donation = db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id, stripe_charge_id=fact.charge_id))
    if donation is None:
        raise gateway.FactsIncomplete(f"refund {fact.refund_id} is for charge {fact.charge_id}, not booked yet")
    ledger.post_entry(fund, entry_date=_booking_day(fund, clock.local_date(fund, fact.at)),
                      memo=f"Refund of gift {donation.receipt_number} ({fact.refund_id})",
                      source_kind="stripe.refund", source_id=fact.refund_id,
                      postings=[("Income:Donations", fact.amount_cents), ("Assets:Stripe", -fact.amount_cents)])
    return donation


def apply_refunds(fund: Fund, donation: Donation, total_cents: int) -> None:
    """Set the gift's refunded total to Stripe's figure; when it changes, audit it and mail a corrected receipt.

    An absolute value set by a conditional UPDATE, so two deliveries at once neither add it twice nor mail twice.
    """
    before = {"refunded_cents": donation.refunded_cents, "status": donation.status}
    status = (donation.status if donation.status == DonationStatus.DISPUTE_LOST else
              DonationStatus.REFUNDED if total_cents >= (donation.gross_cents or 0) else
              DonationStatus.PARTIALLY_REFUNDED if total_cents else donation.status)
    changed = db.session.execute(
        db.update(Donation).where(Donation.id == donation.id, Donation.refunded_cents != total_cents)
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


def book_charge_and_refunds(fund: Fund, charge_id: str) -> None:
    """Everything Stripe says about one charge: the payment (if not yet booked), then each refund."""
    fact = gateway.settled_charge(charge_id)
    if fact is None:
        return
    donation = record_settled_payment(fund, fact)
    refunds = gateway.refunds_for_charge(charge_id)
    for refund in refunds:
        record_refund(fund, refund)
    apply_refunds(fund, donation, sum(refund.amount_cents for refund in refunds))


def record_dispute_movement(fund: Fund, movement: DisputeMovement) -> None:
    """Book money a dispute took (amount < 0, with the dispute fee) or gave back, once per balance transaction;
    once the dispute is lost, its withdrawal is what the donor's gift lost (``apply_dispute_loss``)."""
    if movement.currency != fund.currency:
        raise ledger.LedgerError(f"dispute {movement.dispute_id} is in {movement.currency}, not {fund.currency}")
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
    ledger.post_entry(fund, entry_date=_booking_day(fund, clock.local_date(fund, movement.at)),
                      memo=f"Dispute {movement.dispute_id} on {movement.charge_id}: funds {what}",
                      source_kind="stripe.dispute", source_id=movement.balance_transaction_id, postings=postings)
    donation = db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id, stripe_charge_id=movement.charge_id))
    record_change(f"donation.dispute_{what}", "donation", donation.id if donation else movement.charge_id,
                  fund_id=fund.id, after={"dispute": movement.dispute_id, "amount_cents": movement.amount_cents,
                                          "fee_cents": movement.fee_cents})


def record_payout(fund: Fund, payout: PayoutFact) -> None:
    """A payout moves money from the Stripe balance to the bank; one that fails after being paid comes back."""
    if payout.currency != fund.currency:
        raise ledger.LedgerError(f"payout {payout.payout_id} is in {payout.currency}, not {fund.currency}")
    if payout.status not in ("paid", "failed"):
        return
    entry = ledger.post_entry(fund, entry_date=_booking_day(fund, payout.day), memo=f"Stripe payout {payout.payout_id}",
                              source_kind="stripe.payout", source_id=payout.payout_id,
                              postings=[("Assets:Bank", payout.amount_cents), ("Assets:Stripe", -payout.amount_cents)])
    if payout.status == "failed" and ledger.find_entry(fund, "reversal", entry.id) is None:
        ledger.reverse_entry(entry, entry_date=_booking_day(fund, clock.today(fund)),
                             memo=f"Stripe payout {payout.payout_id} failed: the money is back in the Stripe balance")


OFFLINE_METHODS = ("cheque", "cash")


def clean_address(text: str) -> str:
    """An address as the donor's lines, each trimmed, blank lines dropped."""
    return "\n".join(line.strip() for line in (text or "").splitlines() if line.strip())[:500]


def record_offline_gift(fund: Fund, *, name: str, email: str, amount_cents: int, received_on: date, method: str,
                        reference: str = "", anonymous: bool = False, language: str = "en", postal_address: str = "",
                        actor=None, notify: bool = True) -> Donation:
    """A cheque or cash gift the treasurer holds: booked to Assets:Undeposited, with a receipt. A gift of
    LARGE_GIFT_CENTS or more needs the donor's email (their gifts of the year count together) and address."""
    if method not in OFFLINE_METHODS:
        raise DonationError(_("Choose cheque or cash."), "method")
    if amount_cents <= 0:
        raise DonationError(_("Enter the amount of the gift."), "amount")
    most = current_app.config["OFFLINE_GIFT_MAX_CENTS"]
    if amount_cents > most:
        raise DonationError(_("A gift above %(most)s is refused here, to catch a typing slip; if it is right, ask "
                              "whoever runs the app to raise OFFLINE_GIFT_MAX.", most=format_cents(most, fund.currency)),
                            "amount")
    if received_on > clock.today(fund):
        raise DonationError(_("The date of the gift cannot be in the future."), "received_on")
    postal_address = clean_address(postal_address)
    if amount_cents >= LARGE_GIFT_CENTS:
        limit = format_cents(LARGE_GIFT_CENTS, fund.currency)
        if not (email or "").strip():
            raise DonationError(_("For a gift of %(limit)s or more, enter the donor's email: the IRS lists each "
                                  "donor's gifts of the year together (Schedule B).", limit=limit), "email")
        known = db.session.scalar(db.select(Donor.postal_address).filter_by(fund_id=fund.id,
                                                                             email=email.strip().lower()))
        if not postal_address and not known:
            raise DonationError(_("For a gift of %(limit)s or more, enter the donor's postal address: the IRS asks "
                                  "for it (Form 990, Schedule B).", limit=limit), "postal_address")
    donor = find_or_create_donor(fund, email or "", name, language)
    if postal_address and donor.email and postal_address != donor.postal_address:
        donor.postal_address = postal_address
    donation = Donation(
        fund_id=fund.id, donor=donor, status=DonationStatus.SUCCEEDED, frequency=Frequency.ONE_TIME,
        origin=Origin.OFFLINE, method=method, reference=reference.strip()[:100], amount_cents=amount_cents,
        fee_cover_cents=0, refunded_cents=0, currency=fund.currency, language=language, anonymous=anonymous,
        wall_status=WallStatus.HIDDEN, gross_cents=amount_cents, fee_cents=0, net_cents=amount_cents,
        received_on=received_on, settled_at=utcnow().replace(microsecond=0), receipt_year=received_on.year,
        receipt_seq=_next_receipt_seq(fund, received_on.year))
    db.session.add(donation)
    db.session.flush()
    ledger.post_entry(fund, entry_date=_booking_day(fund, received_on),
                      memo=f"Gift {donation.receipt_number} by {method}{' ' + donation.reference if donation.reference else ''}",
                      source_kind="offline.gift", source_id=donation.id, actor=actor,
                      postings=[("Assets:Undeposited", amount_cents), ("Income:Donations", -amount_cents)])
    record_change("donation.offline", "donation", donation.id, actor=actor, fund_id=fund.id,
                  after={"amount_cents": amount_cents, "method": method, "reference": donation.reference,
                         **({"postal_address": "given"} if postal_address and donor.email else {})})
    if notify:
        send_receipt(fund, donation)
    return donation


def undeposited_gifts(fund: Fund) -> list[Donation]:
    return list(db.session.scalars(db.select(Donation).where(
        Donation.fund_id == fund.id, Donation.origin == Origin.OFFLINE, Donation.deposit_id.is_(None))
        .order_by(Donation.received_on, Donation.id)))


def record_deposit(fund: Fund, donation_ids: list[int], *, deposited_on: date, reference: str = "",
                   actor=None) -> Deposit:
    """Take chosen cheques and cash to the bank: one entry from Assets:Undeposited to Assets:Bank."""
    if not donation_ids:
        raise DonationError(_("Choose the cheques and cash in this deposit."), "gifts")
    gifts = list(db.session.scalars(db.select(Donation).where(
        Donation.fund_id == fund.id, Donation.id.in_(donation_ids), Donation.origin == Origin.OFFLINE,
        Donation.deposit_id.is_(None))))
    if len(gifts) != len(set(donation_ids)):
        raise DonationError(_("Some of these gifts are already in a deposit. Reload the page and choose again."),
                            "gifts")
    total = sum(gift.gross_cents for gift in gifts)
    deposit = Deposit(fund_id=fund.id, deposited_on=deposited_on, reference=reference.strip()[:100],
                      amount_cents=total, created_by_id=getattr(actor, "id", None))
    db.session.add(deposit)
    db.session.flush()
    # Claim the gifts only if still undeposited: two treasurers depositing the same cheque cannot both succeed.
    claimed = db.session.execute(
        db.update(Donation).where(Donation.id.in_([g.id for g in gifts]), Donation.deposit_id.is_(None))
        .values(deposit_id=deposit.id).execution_options(synchronize_session=False)).rowcount
    if claimed != len(gifts):
        raise DonationError(_("Some of these gifts are already in a deposit. Reload the page and choose again."),
                            "gifts")
    ledger.post_entry(fund, entry_date=_booking_day(fund, deposited_on),
                      memo=f"Bank deposit {deposit.reference or deposit.id}: {len(gifts)} cheques and cash",
                      source_kind="offline.deposit", source_id=deposit.id, actor=actor,
                      postings=[("Assets:Bank", total), ("Assets:Undeposited", -total)])
    record_change("deposit.create", "deposit", deposit.id, actor=actor, fund_id=fund.id,
                  after={"amount_cents": total, "gifts": sorted(g.id for g in gifts)})
    return deposit


@dataclass
class Reconciliation:
    charges_seen: int = 0
    payments_booked: int = 0
    refunds_booked: int = 0
    disputes_booked: int = 0
    payouts_booked: int = 0
    #: Stored events whose objects Stripe does not know (or in another API version): never booked.
    not_booked: int = 0


#: How the worker marks a stored event that must not be booked (its reason follows); it waits on the queue page.
NOT_BOOKED = "Not booked: "


def not_booked_count() -> int:
    """Stored events Stripe did not confirm (or in another API version): nothing of them was booked."""
    return db.session.scalar(db.select(db.func.count()).select_from(StripeEvent).where(
        StripeEvent.processed_at.is_(None), StripeEvent.last_error.startswith(NOT_BOOKED))) or 0


def reconcile_stripe(fund: Fund, since) -> Reconciliation:
    """Sweep Stripe's charges, disputes and payouts since ``since`` and book whatever the books lack (a lost
    webhook, the app down, a refund made in the dashboard). Idempotent: a second run books nothing."""
    from fundapp.ledger.models import JournalEntry

    kinds = ("stripe.charge", "stripe.refund", "stripe.dispute", "stripe.payout")

    def counts() -> list[int]:
        return [db.session.scalar(db.select(db.func.count(JournalEntry.id)).filter_by(fund_id=fund.id,
                                                                                      source_kind=kind))
                for kind in kinds]

    before = counts()
    charge_ids = gateway.charge_ids_since(since)
    for charge_id in charge_ids:
        book_charge_and_refunds(fund, charge_id)
    for dispute in gateway.disputes_since(since):
        _dispute_event(fund, dispute)
    for payout in gateway.payouts_since(since):
        if payout.currency == fund.currency:  # the local test server pays out only in euros
            record_payout(fund, payout)
    after = counts()
    return Reconciliation(len(charge_ids), *(a - b for a, b in zip(after, before, strict=True)), not_booked=not_booked_count())


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
    book_charge_and_refunds(fund, donation.stripe_charge_id)


def set_wall_status(fund: Fund, donation: Donation, status: str, *, actor) -> None:
    """The treasurer shows or hides a gift on the public donor wall."""
    if status not in (WallStatus.SHOWN, WallStatus.HIDDEN):
        raise DonationError(_("Choose to show or hide the gift."))
    if status == WallStatus.SHOWN and donation.status not in (DonationStatus.SUCCEEDED,
                                                              DonationStatus.PARTIALLY_REFUNDED):
        raise DonationError(_("Only a gift the fund has received can be shown on the wall."))
    before = donation.wall_status
    donation.wall_status = status
    record_change("donation.wall", "donation", donation.id, actor=actor, fund_id=fund.id,
                  before={"wall": before}, after={"wall": status})


# --- webhook events -----------------------------------------------------------------------------


def _checkout_donation(fund: Fund, session: dict) -> Donation | None:
    token = session.get("client_reference_id") or (session.get("metadata") or {}).get("donation")
    return db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id, token=token)) if token else None


def _keep_address(fund: Fund, donation: Donation, address: PostalAddress | None) -> None:
    """Keep the billing address a payment carries with its donor (Schedule B lists large donors' addresses); a
    donor with no email stands for anyone, so keeps none. The audit trail says it changed, not what to."""
    if address is None or not donation.donor.email or clean_address(address.text()) == donation.donor.postal_address:
        return
    donation.donor.postal_address = clean_address(address.text())
    record_change("donor.address", "donor", donation.donor.id, fund_id=fund.id,
                  after={"postal_address": "from the payment", "donation": donation.id})


def _link_checkout(fund: Fund, session: dict) -> None:
    """A finished checkout names its payment; no money is booked from it (the payment's own facts do that).
    Paid by bank debit, the payment is still on its way: the gift shows as processing until Stripe settles it."""
    donation = _checkout_donation(fund, session)
    if donation is None:
        return
    donation.stripe_checkout_session_id = session.get("id")
    donation.stripe_payment_intent_id = gateway.object_id(session.get("payment_intent")) or donation.stripe_payment_intent_id
    donation.stripe_subscription_id = gateway.object_id(session.get("subscription")) or donation.stripe_subscription_id
    if gateway.object_id(session.get("customer")) and not donation.donor.stripe_customer_id:
        donation.donor.stripe_customer_id = gateway.object_id(session.get("customer"))
    _keep_address(fund, donation, gateway.checkout_address(session))
    if (donation.status == DonationStatus.PENDING and session.get("payment_status") == "unpaid"
            and donation.stripe_payment_intent_id
            and gateway.payment_status(donation.stripe_payment_intent_id) == "processing"):
        donation.status = DonationStatus.PROCESSING
        record_change("donation.processing", "donation", donation.id, fund_id=fund.id,
                      after={"payment_intent": donation.stripe_payment_intent_id})
        if donation.donor.email:
            with force_locale(donation.language):
                queue_mail(donation.donor.email, _("Your gift to %(fund)s is on its way", fund=fund.name), _(
                    "Hello %(name)s,\n\nThank you for your gift of %(amount)s. You paid by bank debit, which takes a "
                    "few working days to settle. We email your receipt as soon as it does.\n\n%(fund)s",
                    name=donation.donor.name, amount=format_cents(donation.total_cents, fund.currency,
                                                                  _locale(donation)), fund=fund.name)
                    + "\n\n" + _("Your gift and its receipt, any time: %(link)s",
                                   link=public_link("donations.thanks", token=donation.token)))


#: Stripe Checkout sessions expire 24 hours after they are made (their longest life): after that (with an hour's
#: margin for clocks) nothing can be paid through one, so a gift still pending was left at the checkout.
CHECKOUT_LIFETIME = timedelta(hours=25)


def close_stale_checkouts(fund: Fund, *, now: datetime | None = None) -> int:
    """Close as abandoned the gifts left pending at a checkout that can no longer be paid, when Stripe's
    ``checkout.session.expired`` never came (the local server sends none). A charge booked later for one
    of them still books it (booking sets the status from the charge). Returns how many were closed."""
    cutoff = (now or utcnow()) - CHECKOUT_LIFETIME
    # One conditional UPDATE: a charge booked for the gift meanwhile (status and charge set under the booking's
    # lock) is never overwritten, and two workers tidying at once close (and audit) each gift once.
    still_open = (Donation.fund_id == fund.id, Donation.status == DonationStatus.PENDING,
                  Donation.stripe_charge_id.is_(None), Donation.created_at < cutoff)
    closed = db.session.scalars(db.update(Donation).where(*still_open).values(status=DonationStatus.ABANDONED)
                                .returning(Donation.id).execution_options(synchronize_session=False)).all()
    for donation_id in sorted(closed):
        record_change("donation.abandoned", "donation", donation_id, fund_id=fund.id,
                      after={"reason": "checkout expired"})
    if closed:
        db.session.expire_all()  # gifts already loaded in this session show their new status
    return len(closed)


def _checkout_expired(fund: Fund, session: dict) -> None:
    """The donor left the checkout unpaid until it expired: the pending gift is closed as abandoned."""
    donation = _checkout_donation(fund, session)
    if donation is None or donation.status != DonationStatus.PENDING or \
            donation.stripe_checkout_session_id not in (None, session.get("id")):
        return
    donation.status = DonationStatus.ABANDONED
    record_change("donation.abandoned", "donation", donation.id, fund_id=fund.id,
                  after={"checkout_session": session.get("id")})


def _async_payment(fund: Fund, session: dict) -> None:
    """A bank debit settled or failed, days after the checkout: Stripe's payment says which."""
    intent_id = gateway.object_id(session.get("payment_intent"))
    if not intent_id:
        return
    status = gateway.payment_status(intent_id)
    if status == "succeeded":
        _intent_succeeded(fund, {"id": intent_id})
    elif status in ("requires_payment_method", "canceled"):
        donation = _checkout_donation(fund, session)
        if donation is not None:
            mark_failed(donation, _("Your bank did not make the payment."))


def _payment_failed(fund: Fund, intent: dict) -> None:
    token = (intent.get("metadata") or {}).get("donation")
    donation = db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id, token=token)) if token else None
    if donation is not None:
        message = ((intent.get("last_payment_error") or {}).get("message")) or "The payment did not go through."
        mark_failed(donation, message)


def _intent_succeeded(fund: Fund, intent: dict) -> None:
    fact = gateway.settled_payment_for_intent(intent["id"])
    if fact is not None:
        record_settled_payment(fund, fact)


def _invoice_paid(fund: Fund, invoice: dict) -> None:
    """A monthly gift's invoice was paid: book the payments Stripe lists for it (``InvoicePayment``)."""
    for intent_id in gateway.paid_intents_of_invoice(invoice["id"]):
        _intent_succeeded(fund, {"id": intent_id})


def _dispute_event(fund: Fund, dispute: dict) -> None:
    """Book each money movement of the dispute as Stripe lists it now (the gift first, if its own event has
    not come yet)."""
    movements = gateway.dispute_movements(dispute["id"])
    for charge_id in dict.fromkeys(movement.charge_id for movement in movements):
        book_charge_and_refunds(fund, charge_id)
    for movement in movements:
        record_dispute_movement(fund, movement)


def _payout_event(fund: Fund, payout: dict) -> None:
    record_payout(fund, gateway.payout_fact(payout["id"]))


def _refund_event(fund: Fund, obj: dict) -> None:
    charge_id = obj["id"] if obj.get("object") == "charge" else gateway.object_id(obj.get("charge"))
    if charge_id:
        book_charge_and_refunds(fund, charge_id)


HANDLERS = {
    "checkout.session.completed": _link_checkout,
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _payment_failed,
    "charge.succeeded": lambda fund, charge: book_charge_and_refunds(fund, charge["id"]),
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _invoice_paid,
    "charge.refunded": _refund_event,
    "charge.refund.updated": _refund_event,
    "refund.created": _refund_event,
    "refund.updated": _refund_event,
    "charge.dispute.created": _dispute_event,
    "charge.dispute.funds_withdrawn": _dispute_event,
    "charge.dispute.funds_reinstated": _dispute_event,
    "charge.dispute.closed": _dispute_event,
    "payout.paid": _payout_event,
    "payout.failed": _payout_event,
}


def apply_event(fund: Fund, event: dict) -> str:
    """Do what a stored event asks (re-fetching its objects from Stripe); "applied" or "ignored"."""
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return "ignored"
    handler(fund, (event.get("data") or {}).get("object") or {})
    return "applied"


# --- receipts ---------------------------------------------------------------------------------


def receipt_data(fund: Fund, donation: Donation) -> receipt_pdf.ReceiptData:
    return receipt_pdf.ReceiptData(
        fund_name=fund.name, legal_name=fund.legal_name, ein=fund.ein, legal_form=fund.legal_form,
        contact_email=fund.contact_email, receipt_number=donation.receipt_number,
        donor_name=donation.donor.name, gift_date=donation.received_on, amount_cents=donation.gross_cents,
        refunded_cents=donation.refunded_cents, disputed_cents=donation.disputed_cents, currency=donation.currency,
        method=donation.method,
        monthly=donation.frequency == Frequency.MONTHLY, dedication_kind=donation.dedication_kind,
        dedication_name=donation.dedication_name, language=donation.language if donation.language in
        LANGUAGES else "en", issued_at=clock.local(fund, donation.settled_at), postal_address=fund.postal_address,
        signatory_name=fund.signatory_name, signatory_title=fund.signatory_title,
        legal_form_wording=fund.legal_form_wording, page_words=page_words(donation.language),
        words=receipt_words(donation.language))


def receipt_for(fund: Fund, donation: Donation) -> bytes:
    """The receipt PDF; the same gift gives the same bytes until a refund or a lost dispute corrects it."""
    if donation.receipt_number is None:
        raise DonationError(_("This gift has no receipt yet: it has not been received."))
    return receipt_pdf.render(receipt_data(fund, donation))


def receipt_filename(donation: Donation) -> str:
    return f"receipt-{donation.receipt_number}.pdf"


def send_receipt(fund: Fund, donation: Donation) -> None:
    """Queue the receipt mail (with the PDF) in the donor's language, in this transaction; in production, none
    while the fund's EIN or contact is a placeholder (the fund page says so; the receipt stays downloadable)."""
    if not donation.donor.email:
        return
    if receipts_held(fund):
        current_app.logger.warning("receipt %s held: the fund's %s is a placeholder (set it on /admin/fund)",
                                   donation.receipt_number, " and ".join(receipt_placeholders(fund)))
        donation.receipt_held = True
        return
    with force_locale(donation.language):
        if donation.disputed_cents:
            subject = _("Corrected receipt %(number)s from %(fund)s", number=donation.receipt_number, fund=fund.name)
            body = _("Hello %(name)s,\n\nA dispute of the card payment for your gift of %(amount)s was decided "
                     "against the fund, so %(lost)s of it went back to the card and was not received. The "
                     "corrected receipt is attached.\n\n%(fund)s", name=donation.donor.name,
                     lost=format_cents(donation.disputed_cents, fund.currency, _locale(donation)),
                     amount=format_cents(donation.gross_cents, fund.currency, _locale(donation)), fund=fund.name)
        elif donation.refunded_cents:
            subject = _("Corrected receipt %(number)s from %(fund)s", number=donation.receipt_number, fund=fund.name)
            body = _("Hello %(name)s,\n\nWe refunded %(refunded)s of your gift of %(amount)s. The corrected "
                     "receipt is attached.\n\n%(fund)s", name=donation.donor.name,
                     refunded=format_cents(donation.refunded_cents, fund.currency, _locale(donation)),
                     amount=format_cents(donation.gross_cents, fund.currency, _locale(donation)), fund=fund.name)
        else:
            subject = _("Thank you: receipt %(number)s from %(fund)s", number=donation.receipt_number, fund=fund.name)
            body = _("Hello %(name)s,\n\nThank you for your gift of %(amount)s to %(fund)s. It goes to striking "
                     "workers who cannot cover rent, utilities, medicine or childcare. Your receipt is attached."
                     "\n\n%(fund)s", name=donation.donor.name,
                     amount=format_cents(donation.gross_cents, fund.currency, _locale(donation)), fund=fund.name)
        body += "\n\n" + _("Your gift and its receipt, any time: %(link)s",
                             link=public_link("donations.thanks", token=donation.token))
        if donation.frequency == Frequency.MONTHLY:
            body += "\n\n" + _("Your gift repeats every month. To stop it, or to see your gifts and receipts, "
                                "sign in to your donor page: %(link)s", link=public_link("donor.login"))
    queue_mail(donation.donor.email, subject, body, language=donation.language,
               attachment=(receipt_filename(donation), receipt_for(fund, donation)))


def send_held_receipts(fund: Fund) -> int:
    """Mail the receipts held while the fund's EIN or contact was a placeholder, now that both are set (the
    receipt as it stands today: corrected if the gift was refunded meanwhile). Returns how many were queued."""
    if receipts_held(fund):
        return 0
    # Claimed by one conditional UPDATE, so two workers tidying at once never mail a receipt twice: on
    # PostgreSQL the second waits for the first's row locks, re-reads `receipt_held` and claims nothing.
    waiting = db.select(Donation.id).where(Donation.fund_id == fund.id, Donation.receipt_held.is_(True)) \
        .order_by(Donation.id).limit(200).scalar_subquery()
    claimed = db.session.scalars(db.update(Donation).where(Donation.id.in_(waiting), Donation.receipt_held.is_(True))
                                 .values(receipt_held=False).returning(Donation.id)
                                 .execution_options(synchronize_session=False)).all()
    held = db.session.scalars(db.select(Donation).where(Donation.id.in_(claimed))
                              .order_by(Donation.id).execution_options(populate_existing=True)).all()
    for donation in held:
        send_receipt(fund, donation)
        record_change("donation.receipt_released", "donation", donation.id, fund_id=fund.id,
                      after={"receipt": donation.receipt_number})
    return len(held)


def _locale(donation: Donation) -> str:
    return "es_US" if donation.language == "es" else "en_US"


# --- public totals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicTotals:
    raised_cents: int
    gifts: int
    goal_cents: int


def public_totals(fund: Fund) -> PublicTotals:
    """What the home page shows, from the books: raised is Income:Donations (gifts less refunds), and
    gifts the entries crediting it (card, cheque and cash alike)."""
    raised = -ledger.balance(fund, "Income:Donations")
    return PublicTotals(raised, ledger.count_entries_crediting(fund, "Income:Donations"), fund.goal_cents)


def donor_wall(fund: Fund, limit: int = 20) -> list[tuple[str, str, int]]:
    """(name or "Anonymous", message, cents) of gifts shown on the wall, newest first."""
    rows = db.session.scalars(db.select(Donation).where(
        Donation.fund_id == fund.id, Donation.wall_status == WallStatus.SHOWN,
        Donation.status == DonationStatus.SUCCEEDED).order_by(Donation.settled_at.desc()).limit(limit))
    return [("" if d.anonymous else d.donor.name, d.wall_message, d.gross_cents) for d in rows]


# --- the donor portal: sign-in by emailed link, gifts, statements, ending a monthly gift ---------

DONOR_LINK_MAX_AGE = 3600


class InvalidDonorLink(ValueError):
    pass


def _link_serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="donor-link")


def request_donor_link(fund: Fund, email: str) -> None:
    """Ask the worker to mail a one-time sign-in link if this address has given to the fund
    (``answer_donor_link``); the page does the same single write whatever the address."""
    queue_request("donor-link", fund.id, email)


@request_handler("donor-link")
def answer_donor_link(fund_id: int, email: str, language: str) -> None:
    """The worker's half: queue the sign-in link if this address has given to the fund; nothing otherwise."""
    fund = db.session.get(Fund, fund_id)
    donor = db.session.scalar(db.select(Donor).filter_by(fund_id=fund_id, email=email)) if email else None
    if donor is None or fund is None:
        return
    token = _link_serializer().dumps({"d": donor.id, "n": donor.link_nonce})
    with force_locale(donor.language):
        queue_mail(donor.email, _("Your gifts to %(fund)s: sign-in link", fund=fund.name),
                   _("Hello %(name)s,\n\nUse this link within an hour to see your gifts, receipts and statements, "
                     "or to stop a monthly gift:\n\n%(link)s\n\nIf you did not ask for it, ignore this message.\n\n"
                     "%(fund)s", name=donor.name, link=public_link("donor.follow_link", token=token), fund=fund.name))


def donor_for_link(fund: Fund, token: str) -> Donor:
    """The donor a link was made for; the link works once and for an hour."""
    from itsdangerous import BadSignature, SignatureExpired

    try:
        data = _link_serializer().loads(token, max_age=DONOR_LINK_MAX_AGE)
    except SignatureExpired as exc:
        raise InvalidDonorLink(_("This link has expired. Ask for a new one below.")) from exc
    except BadSignature as exc:
        raise InvalidDonorLink(_("This link is not valid. Ask for a new one below.")) from exc
    used = InvalidDonorLink(_("This link has already been used. Ask for a new one below."))
    if not isinstance(data, dict):
        raise used
    claimed = db.session.execute(
        db.update(Donor).where(Donor.id == data.get("d"), Donor.fund_id == fund.id, Donor.link_nonce == data.get("n"))
        .values(link_nonce=Donor.link_nonce + 1).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise used
    return db.session.get(Donor, data["d"])


def donor_gifts(donor: Donor) -> list[Donation]:
    return list(db.session.scalars(db.select(Donation).where(
        Donation.donor_id == donor.id, Donation.receipt_seq.is_not(None)).order_by(Donation.received_on.desc(),
                                                                                   Donation.id.desc())))


def monthly_gifts(donor: Donor) -> list[MonthlyGift]:
    return list(db.session.scalars(db.select(MonthlyGift).filter_by(donor_id=donor.id).order_by(MonthlyGift.id)))


def _ensure_monthly_gift(fund: Fund, donation: Donation) -> None:
    if donation.stripe_subscription_id and db.session.scalar(db.select(MonthlyGift.id).filter_by(
            stripe_subscription_id=donation.stripe_subscription_id)) is None:
        try:
            with db.session.begin_nested():
                db.session.add(MonthlyGift(fund_id=fund.id, donor_id=donation.donor_id,
                                           stripe_subscription_id=donation.stripe_subscription_id,
                                           amount_cents=donation.gross_cents))
        except IntegrityError:
            pass  # a concurrent delivery made it


def end_monthly_gift(fund: Fund, gift: MonthlyGift, *, by_donor: bool) -> None:
    """Stop a monthly gift: cancel the subscription at Stripe (when the donor asks) and mark it ended."""
    if gift.ended_at is not None:
        return
    if by_donor:
        gateway.cancel_subscription(gift.stripe_subscription_id)
    gift.ended_at = utcnow().replace(microsecond=0)
    record_change("monthly_gift.end", "monthly_gift", gift.id, fund_id=fund.id,
                  after={"by": "donor" if by_donor else "stripe"})


def _subscription_changed(fund: Fund, subscription: dict) -> None:
    """A monthly gift's subscription changed or ended: when Stripe says it is over, the gift ends here too."""
    gift = db.session.scalar(db.select(MonthlyGift).filter_by(stripe_subscription_id=subscription.get("id")))
    if gift is not None and gateway.subscription_status(gift.stripe_subscription_id) in ("canceled",
                                                                                       "incomplete_expired"):
        end_monthly_gift(fund, gift, by_donor=False)


def _invoice_payment_failed(fund: Fund, invoice: dict) -> None:
    """Stripe could not collect a monthly gift: tell the donor, in their language, where to pay it with
    another card (Stripe's invoice page) and where to stop the gift."""
    unpaid = gateway.unpaid_invoice(invoice["id"])
    gift = db.session.scalar(db.select(MonthlyGift).filter_by(
        stripe_subscription_id=unpaid.subscription_id)) if unpaid is not None and unpaid.subscription_id else None
    if gift is None or gift.ended_at is not None:
        return
    donor = db.session.get(Donor, gift.donor_id)
    if not donor.email:
        return
    with force_locale(donor.language):
        locale = "es_US" if donor.language == "es" else "en_US"  # as _locale() for a donation
        subject = _("Your monthly gift to %(fund)s did not go through", fund=fund.name)
        body = _("Hello %(name)s,\n\nYour bank or card did not pay this month's gift of %(amount)s. To pay it with "
                 "another card, use this page: %(pay_url)s\n\nTo stop your monthly gift, sign in to your gifts page: "
                 "%(portal_url)s\n\nThank you for standing with the strikers.\n\n%(fund)s", name=donor.name,
                 amount=format_cents(unpaid.amount_cents, fund.currency, locale),
                 pay_url=unpaid.pay_url or current_app.config["BASE_URL"] + "/donor/login",
                 portal_url=current_app.config["BASE_URL"] + "/donor/login", fund=fund.name)
    queue_mail(donor.email, subject, body, language=donor.language)
    record_change("monthly_gift.payment_failed", "monthly_gift", gift.id, fund_id=fund.id,
                  after={"invoice": unpaid.invoice_id, "amount_cents": unpaid.amount_cents})


HANDLERS.update({
    "checkout.session.expired": _checkout_expired,
    "checkout.session.async_payment_succeeded": _async_payment,
    "checkout.session.async_payment_failed": _async_payment,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.payment_failed": _invoice_payment_failed,
})


def statement_years(donor: Donor) -> list[int]:
    return sorted({d.receipt_year for d in donor_gifts(donor)}, reverse=True)


def statement_for(fund: Fund, donor: Donor, year: int) -> bytes:
    """The year-end statement PDF: each gift of ``year`` with its receipt number, and the total given."""
    gifts = [d for d in donor_gifts(donor) if d.receipt_year == year]
    if not gifts:
        raise DonationError(_("There are no gifts from you in %(year)s.", year=year))
    language = donor.language if donor.language in LANGUAGES else "en"
    return statement_pdf.render(statement_pdf.StatementData(
        fund_name=fund.name, legal_name=fund.legal_name, ein=fund.ein, legal_form=fund.legal_form,
        contact_email=fund.contact_email, donor_name=donor.name, year=year, currency=fund.currency,
        language=language, issued_at=datetime(year + 1, 1, 1, tzinfo=clock.zone(fund)),
        gifts=[statement_pdf.StatementGift(d.received_on, d.receipt_number, d.gross_cents, d.refunded_cents,
                                           d.disputed_cents)
               for d in sorted(gifts, key=lambda d: (d.received_on, d.id))],
        page_words=page_words(language), words=statement_words(language)))


def donors_due_a_statement(fund: Fund, year: int) -> list[int]:
    """Ids of donors with an email and gifts in ``year`` whose statement has not been mailed yet."""
    sent = db.select(StatementSent.donor_id).filter_by(fund_id=fund.id, year=year)
    return list(db.session.scalars(
        db.select(Donor.id).join(Donation, Donation.donor_id == Donor.id)
        .where(Donor.fund_id == fund.id, Donor.email != "", Donation.receipt_year == year,
               Donor.id.not_in(sent)).distinct().order_by(Donor.id)))


@dataclass
class StatementProgress:
    queued: int  #: statements of the year in the outbox (or already mailed): StatementSent rows
    delivered: int  #: of those, handed to the mail server by the worker
    due: int  #: donors still due one


def statement_progress(fund: Fund, year: int) -> StatementProgress:
    """How far the year's statements have got: queued by the page or the command, delivered by the worker."""
    queued = db.session.scalar(db.select(db.func.count(StatementSent.id)).filter_by(fund_id=fund.id, year=year))
    # The outbox knows no fund or donor: a statement is the message with this year's statement attached,
    # sent to the address of a donor of this fund who has one queued.
    delivered = db.session.scalar(
        db.select(db.func.count(db.distinct(OutboxMessage.to_address)))
        .join(Donor, Donor.email == OutboxMessage.to_address)
        .join(StatementSent, StatementSent.donor_id == Donor.id)
        .where(StatementSent.fund_id == fund.id, StatementSent.year == year, Donor.fund_id == fund.id,
               OutboxMessage.attachment_name == statement_filename(year), OutboxMessage.sent_at.is_not(None)))
    queued = queued or 0
    return StatementProgress(queued=queued, delivered=min(delivered or 0, queued),
                             due=len(donors_due_a_statement(fund, year)))


def statement_filename(year: int) -> str:
    return f"statement-{year}.pdf"


def send_due_statements(fund: Fund, year: int, limit: int | None = None) -> Iterator[bool]:
    """Queue the statements still due, one donor at a time, yielding after each so the caller commits it:
    a run stopped anywhere (a closed page, a killed command) resumes where it stopped, and nobody gets two.
    The worker mails what is queued (``deliver_pending``); nothing here waits on the mail server."""
    for donor_id in donors_due_a_statement(fund, year)[:limit]:
        yield send_statement(fund, db.session.get(Donor, donor_id), year)


def send_statement(fund: Fund, donor: Donor, year: int) -> bool:
    """Queue one donor's statement with its PDF and mark it queued, in one short write; False if it was
    queued already (by another page, the command, a run stopped earlier).

    The PDF is built before the write lock is taken: on SQLite one writer at a time holds it, and the page,
    the command and the worker take turns only if each holds it for a moment (busy_timeout)."""
    if _statement_queued(fund, donor, year):  # a plain read: no PDF built for someone another run has done
        return False
    pdf = statement_for(fund, donor, year)
    with force_locale(donor.language):
        subject = _("Your gifts to %(fund)s in %(year)s", fund=fund.name, year=year)
        body = _("Hello %(name)s,\n\nThank you for standing with striking workers in %(year)s. Your statement "
                 "of gifts for the year is attached, for your records and your taxes.\n\n%(fund)s",
                 name=donor.name, year=year, fund=fund.name)
        body += "\n\n" + _("Your gifts, receipts and statements, any time: %(link)s", link=public_link("donor.login"))
    begin_write()
    try:
        with db.session.begin_nested():  # the unique (fund, donor, year) decides who queues it
            db.session.add(StatementSent(fund_id=fund.id, donor_id=donor.id, year=year))
    except IntegrityError:
        return False
    queue_mail(donor.email, subject, body, attachment=(statement_filename(year), pdf), language=donor.language)
    return True


def _statement_queued(fund: Fund, donor: Donor, year: int) -> bool:
    return db.session.scalar(db.select(StatementSent.id).filter_by(
        fund_id=fund.id, donor_id=donor.id, year=year)) is not None
