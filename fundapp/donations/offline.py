"""Offline gifts: cheques and cash the treasurer holds (Assets:Undeposited), and the deposits that take
them to the bank (Assets:Bank). Functions flush; the caller commits."""
from __future__ import annotations

from datetime import date

from flask import current_app
from flask_babel import gettext as _

from fundapp.audit.services import record_change
from fundapp.donations.booking import booking_day
from fundapp.donations.giving import LARGE_GIFT_CENTS, DonationError, clean_address, find_or_create_donor
from fundapp.donations.models import Deposit, Donation, DonationStatus, Donor, Frequency, Origin, WallStatus
from fundapp.donations.receipts import next_receipt_seq, send_receipt
from fundapp.extensions import db, utcnow
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.metrics import GIFTS_BOOKED, count_on_commit
from fundapp.money import format_cents

OFFLINE_METHODS = ("cheque", "cash")


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
        receipt_seq=next_receipt_seq(fund, received_on.year))
    db.session.add(donation)
    db.session.flush()
    ledger.post_entry(fund, entry_date=booking_day(fund, received_on),
                      memo=f"Gift {donation.receipt_number} by {method}{' ' + donation.reference if donation.reference else ''}",
                      source_kind="offline.gift", source_id=donation.id, actor=actor,
                      postings=[("Assets:Undeposited", amount_cents), ("Income:Donations", -amount_cents)])
    count_on_commit(GIFTS_BOOKED, way="offline")
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
    ledger.post_entry(fund, entry_date=booking_day(fund, deposited_on),
                      memo=f"Bank deposit {deposit.reference or deposit.id}: {len(gifts)} cheques and cash",
                      source_kind="offline.deposit", source_id=deposit.id, actor=actor,
                      postings=[("Assets:Bank", total), ("Assets:Undeposited", -total)])
    record_change("deposit.create", "deposit", deposit.id, actor=actor, fund_id=fund.id,
                  after={"amount_cents": total, "gifts": sorted(g.id for g in gifts)})
    return deposit
