"""The treasurer's gifts: the list, refunds through Stripe, the donor wall's moderation, and the disputes and
payouts (the books' figures, with what Stripe says of each now)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from fundapp.accounts.models import Role
from fundapp.donations import booking, giving, stripe_books
from fundapp.donations import offline as offline_gifts
from fundapp.donations.forms import DepositForm, OfflineGiftForm
from fundapp.donations.models import Donation, DonationStatus, WallStatus
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund
from fundapp.funds.services import current_fund
from fundapp.ledger import services as ledger
from fundapp.ledger.services import LedgerError
from fundapp.money import InvalidAmount, format_cents, parse_amount
from fundapp.payments import gateway
from fundapp.payments.facts import RetryLater
from fundapp.policy import roles_required
from fundapp.web import confirm_first, confirmed, int_arg, money_text, show_error

bp = Blueprint("donations_admin", __name__, url_prefix="/admin/donations")

PAGE_SIZE = 50


def _donation(donation_id: int) -> Donation:
    donation = db.session.get(Donation, donation_id)
    if donation is None or donation.fund_id != current_fund().id:
        abort(404)
    return donation


@bp.get("/")
@roles_required(Role.TREASURER)
def index():
    fund = current_fund()
    status = request.args.get("status", "")
    wall = request.args.get("wall", "")
    query = db.select(Donation).filter_by(fund_id=fund.id)
    if status in set(DonationStatus):
        query = query.filter_by(status=status)
    else:  # gifts left at the checkout are noise unless asked for
        query = query.where(Donation.status != DonationStatus.ABANDONED,
                            (Donation.status != DonationStatus.PENDING)
                            | (Donation.created_at >= utcnow() - giving.CHECKOUT_LIFETIME))
    if wall in set(WallStatus):
        query = query.filter_by(wall_status=wall)
    page = db.paginate(query.order_by(db.func.coalesce(Donation.received_on, db.func.date(Donation.created_at)).desc(),
                                          Donation.created_at.desc(), Donation.id.desc()), page=max(int_arg("page", 1), 1),
                       per_page=PAGE_SIZE, error_out=False)
    try:
        stripe_says = gateway.stripe_balance_cents(fund.currency)
        stripe_error = False
    except gateway.GatewayError:
        current_app.logger.warning("could not read the Stripe balance", exc_info=True)
        stripe_says, stripe_error = None, True
    # One Stripe account holds every fund's money: Stripe's balance is compared with all the funds' books
    funds = list(db.session.scalars(db.select(Fund).where(Fund.currency == fund.currency)))
    own = ledger.balance(fund, "Assets:Stripe")
    books_say = own + sum(ledger.balance(other, "Assets:Stripe") for other in funds if other.id != fund.id)
    return render_template("donations/admin_index.html", page=page, fund=fund, status=status, wall=wall,
                           statuses=list(DonationStatus), books_say=books_say, own_share=own,
                           several_funds=len(funds) > 1, stripe_says=stripe_says, stripe_error=stripe_error)


def _confirm_refund(donation: Donation, cents: int):
    given = donation.gross_cents or donation.total_cents
    left = given - donation.refunded_cents - donation.disputed_cents
    lines = [_("Refund %(amount)s of the %(given)s gift from %(donor)s received on %(date)s (receipt %(receipt)s).",
               amount=money_text(cents, donation.currency), given=money_text(given, donation.currency),
               donor=donation.donor.name or donation.donor.email or _("an anonymous donor"),
               date=format_date(donation.received_on, "long") if donation.received_on else "—",
               receipt=donation.receipt_number or "—"),
             _("Stripe sends %(amount)s back to the donor's card; it reaches them in 5 to 10 days. Stripe keeps "
               "its fee.", amount=money_text(cents, donation.currency)),
             _("The books record the refund, and the donor is sent a corrected receipt for %(kept)s.",
               kept=money_text(left - cents, donation.currency)),
             _("This cannot be undone.")]
    return confirm_first(_("Refund this gift?"), lines, _("Refund %(amount)s", amount=money_text(
        cents, donation.currency)), url_for("donations_admin.index"))


@bp.post("/<int:donation_id>/refund")
@roles_required(Role.TREASURER)
def refund(donation_id):
    fund = current_fund()
    donation = _donation(donation_id)
    try:
        cents = parse_amount(request.form.get("amount", ""))
        if not confirmed():
            booking.check_refund(donation, cents)
            return _confirm_refund(donation, cents)
        booking.request_refund(fund, donation, cents, actor=current_user)
    except (InvalidAmount, giving.DonationError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    except RetryLater:
        db.session.rollback()
        current_app.logger.exception("refund failed")
        flash(_("Stripe did not take the refund just now; nothing changed. Try again in a minute."), "error")
    else:
        db.session.commit()
        flash(_("Refunded. The books and the donor's corrected receipt are updated."), "success")
    return redirect(url_for("donations_admin.index"))


@bp.post("/<int:donation_id>/wall")
@roles_required(Role.TREASURER)
def wall(donation_id):
    donation = _donation(donation_id)
    try:
        giving.set_wall_status(current_fund(), donation, request.form.get("status", ""), actor=current_user)
    except giving.DonationError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("The donor wall is updated."), "success")
    return redirect(url_for("donations_admin.index", wall=request.form.get("back_wall", "")))


def _render_offline(gift_form: OfflineGiftForm, deposit_form: DepositForm, status: int = 200):
    fund = current_fund()
    return render_template("donations/admin_offline.html", fund=fund, gift_form=gift_form, deposit_form=deposit_form,
                           undeposited=offline_gifts.undeposited_gifts(fund)), status


@bp.get("/offline")
@roles_required(Role.TREASURER)
def offline():
    return _render_offline(OfflineGiftForm(formdata=None, prefix="gift"), DepositForm(formdata=None, prefix="deposit"))


@bp.post("/offline/gift")
@roles_required(Role.TREASURER)
def record_offline_gift():
    form = OfflineGiftForm(prefix="gift")
    if form.validate_on_submit():
        try:
            donation = offline_gifts.record_offline_gift(
                current_fund(), name=form.name.data, email=form.email.data or "",
                amount_cents=parse_amount(form.amount.data), received_on=form.received_on.data,
                method=form.method.data, reference=form.reference.data or "", anonymous=form.anonymous.data,
                postal_address=form.postal_address.data or "", actor=current_user)
        except (giving.DonationError, LedgerError) as exc:
            db.session.rollback()
            show_error(form, exc, "amount")
        else:
            db.session.commit()
            flash(_("Recorded: receipt %(number)s. It is waiting to be deposited.", number=donation.receipt_number),
                  "success")
            return redirect(url_for("donations_admin.offline"))
    return _render_offline(form, DepositForm(formdata=None, prefix="deposit"), 422)


@bp.post("/offline/deposit")
@roles_required(Role.TREASURER)
def record_deposit():
    form = DepositForm(prefix="deposit")
    if form.validate_on_submit():
        try:
            deposit = offline_gifts.record_deposit(
                current_fund(), [int(i) for i in request.form.getlist("gifts") if i.isdigit()],
                deposited_on=form.deposited_on.data, reference=form.reference.data or "", actor=current_user)
        except (giving.DonationError, LedgerError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Deposit of %(amount)s recorded: the money is now in the bank account in the books.",
                    amount=format_cents(deposit.amount_cents, current_fund().currency)), "success")
            return redirect(url_for("donations_admin.offline"))
    return _render_offline(OfflineGiftForm(formdata=None, prefix="gift"), form, 422)


@bp.get("/disputes")
@roles_required(Role.TREASURER)
def disputes():
    fund = current_fund()
    rows, stripe_error = stripe_books.fund_disputes(fund)
    return render_template("donations/admin_disputes.html", fund=fund, rows=rows, stripe_error=stripe_error)


@bp.get("/payouts")
@roles_required(Role.TREASURER)
def payouts():
    fund = current_fund()
    rows, stripe_error = stripe_books.fund_payouts(fund)
    return render_template("donations/admin_payouts.html", fund=fund, rows=rows, stripe_error=stripe_error)
