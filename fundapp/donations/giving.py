"""Giving: a donor starts a gift, goes to Stripe's checkout, comes back or leaves it; the public totals and wall.

A gift is a pending donation until Stripe's facts say its money settled (``booking``); nothing here books money.
The checkout's own facts (completed, expired, a payment that failed) only link or close the pending gift.
Functions flush; the caller commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import record_change
from fundapp.donations.models import Donation, DonationStatus, Donor, Frequency, Origin, WallStatus
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.mail import public_link, queue_mail
from fundapp.money import format_cents
from fundapp.payments.facts import CheckoutCompleted, CheckoutExpired, PaymentFailed, PostalAddress
from fundapp.pdf_text import receipt_words
from reports import receipt as receipt_pdf

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
    """The fund's donor with this email (their name and language brought up to date), or a new one. Without an
    email there is no one to recognise: each such gift gets a donor of its own, so one cash donor's name never
    lands on another's receipt."""
    email = email.strip().lower()
    if not email:
        donor = Donor(fund_id=fund.id, email="", name=name.strip()[:200] or "Anonymous", language=language)
        db.session.add(donor)
        return donor
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


def clean_address(text: str) -> str:
    """An address as the donor's lines, each trimmed, blank lines dropped."""
    return "\n".join(line.strip() for line in (text or "").splitlines() if line.strip())[:500]


def keep_address(fund: Fund, donation: Donation, address: PostalAddress | None) -> None:
    """Keep the billing address a payment carries with its donor (Schedule B lists large donors' addresses); a
    donor with no email stands for anyone, so keeps none. The audit trail says it changed, not what to."""
    if address is None or not donation.donor.email or clean_address(address.text()) == donation.donor.postal_address:
        return
    donation.donor.postal_address = clean_address(address.text())
    record_change("donor.address", "donor", donation.donor.id, fund_id=fund.id,
                  after={"postal_address": "from the payment", "donation": donation.id})


def donor_locale(donation: Donation) -> str:
    return "es_US" if donation.language == "es" else "en_US"


def start_donation(fund: Fund, gift: GiftRequest) -> Donation:
    """A pending donation, before the donor pays; nothing is booked until Stripe says it settled."""
    config = current_app.config
    if fund.status == "closed":
        raise DonationError(_("This fund is closed and takes no more gifts."), "amount")
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


def _gift_of(fund: Fund, token: str | None) -> Donation | None:
    return db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id, token=token)) if token else None


def link_checkout(fund: Fund, fact: CheckoutCompleted) -> None:
    """A finished checkout names its payment; no money is booked from it (the payment's own facts do that).
    Paid by bank debit, the payment is still on its way: the gift shows as processing until Stripe settles it."""
    donation = _gift_of(fund, fact.donation_token)
    if donation is None:
        return
    donation.stripe_checkout_session_id = fact.session_id
    donation.stripe_payment_intent_id = fact.payment_intent_id or donation.stripe_payment_intent_id
    donation.stripe_subscription_id = fact.subscription_id or donation.stripe_subscription_id
    if fact.customer_id and not donation.donor.stripe_customer_id:
        donation.donor.stripe_customer_id = fact.customer_id
    keep_address(fund, donation, fact.address)
    if donation.status == DonationStatus.PENDING and fact.processing:
        donation.status = DonationStatus.PROCESSING
        record_change("donation.processing", "donation", donation.id, fund_id=fund.id,
                      after={"payment_intent": donation.stripe_payment_intent_id})
        if donation.donor.email:
            with force_locale(donation.language):
                queue_mail(donation.donor.email, _("Your gift to %(fund)s is on its way", fund=fund.name), _(
                    "Hello %(name)s,\n\nThank you for your gift of %(amount)s. You paid by bank debit, which takes a "
                    "few working days to settle. We email your receipt as soon as it does.\n\n%(fund)s",
                    name=donation.donor.name, amount=format_cents(donation.total_cents, fund.currency,
                                                                  donor_locale(donation)), fund=fund.name)
                    + "\n\n" + _("Your gift and its receipt, any time: %(link)s",
                                   link=public_link("donations.thanks", fund=fund, token=donation.token)),
                    fund_id=fund.id)


def checkout_expired(fund: Fund, fact: CheckoutExpired) -> None:
    """The donor left the checkout unpaid until it expired: the pending gift is closed as abandoned."""
    donation = _gift_of(fund, fact.donation_token)
    if donation is None or donation.status != DonationStatus.PENDING or \
            donation.stripe_checkout_session_id not in (None, fact.session_id):
        return
    donation.status = DonationStatus.ABANDONED
    record_change("donation.abandoned", "donation", donation.id, fund_id=fund.id,
                  after={"checkout_session": fact.session_id})


def payment_failed(fund: Fund, fact: PaymentFailed) -> None:
    """The gift's payment did not go through: the donor may try again (``retry_donation``)."""
    donation = _gift_of(fund, fact.donation_token)
    if donation is not None:
        mark_failed(donation, _("Your bank did not make the payment.") if fact.by_bank else
                    fact.message or "The payment did not go through.")


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
