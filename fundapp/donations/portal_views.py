"""The donor portal: sign in by an emailed one-time link, see gifts, download receipts and
statements, stop a monthly gift. Donors have no password; access is decided in ``policy``."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SubmitField
from wtforms.validators import DataRequired, Length

from fundapp.accounts.sessions import end_session, start_donor_session
from fundapp.donations import giving, portal, receipts
from fundapp.donations.models import Donation, Donor, MonthlyGift
from fundapp.extensions import db
from fundapp.funds.services import current_fund
from fundapp.payments import gateway
from fundapp.policy import DONOR_SESSION_KEY, current_donor_id, donor_signed_in, public
from fundapp.web import confirm_first, confirmed, download, money_text

bp = Blueprint("donor", __name__, url_prefix="/donor")


class DonorLinkForm(FlaskForm):
    email = EmailField(_l("The email address you gave with"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField(_l("Email me a sign-in link"))


def _donor() -> Donor:
    donor = db.session.get(Donor, current_donor_id())
    if donor is None:
        session.pop(DONOR_SESSION_KEY, None)
        abort(403)
    return donor


def _own(model, object_id: int):
    """One of the signed-in donor's own objects, or 404 (never another donor's)."""
    obj = db.session.get(model, object_id)
    if obj is None or obj.donor_id != current_donor_id():
        abort(404)
    return obj


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = DonorLinkForm()
    if form.validate_on_submit():
        portal.request_donor_link(current_fund(), form.email.data)  # the worker mails the link
        db.session.commit()
        return render_template("donations/portal_link_sent.html", email=form.email.data.strip())
    return render_template("donations/portal_login.html", form=form), 422 if form.errors else 200


@bp.get("/link/<token>")
@public
def follow_link(token):
    try:
        donor = portal.donor_for_link(current_fund(), token)
    except portal.InvalidDonorLink as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return render_template("donations/portal_login.html", form=DonorLinkForm(formdata=None)), 400
    token = start_donor_session(donor.id, ip=request.remote_addr or "", user_agent=request.user_agent.string)
    db.session.commit()
    session[DONOR_SESSION_KEY] = {"id": donor.id, "fund": current_fund().id, "token": token}
    return redirect(url_for("donor.index"))


@bp.post("/logout")
@public
def logout():
    held = session.pop(DONOR_SESSION_KEY, None)
    if isinstance(held, dict):
        end_session(held.get("token"), "logout")  # a copy of the cookie stops working too
        db.session.commit()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.home"))


@bp.get("/")
@donor_signed_in
def index():
    donor = _donor()
    return render_template("donations/portal.html", donor=donor, gifts=receipts.donor_gifts(donor),
                           monthly=portal.monthly_gifts(donor), years=receipts.statement_years(donor))


@bp.get("/receipt/<int:donation_id>.pdf")
@donor_signed_in
def receipt(donation_id):
    donation = _own(Donation, donation_id)
    if donation.receipt_number is None:
        abort(404)
    return download(receipts.receipt_for(current_fund(), donation), receipts.receipt_filename(donation))


@bp.get("/statement/<int:year>.pdf")
@donor_signed_in
def statement(year):
    try:
        pdf = receipts.statement_for(current_fund(), _donor(), year)
    except giving.DonationError:
        abort(404)
    return download(pdf, f"statement-{year}.pdf")


@bp.post("/monthly/<int:gift_id>/stop")
@donor_signed_in
def stop_monthly(gift_id):
    gift = _own(MonthlyGift, gift_id)
    if gift.ended_at is None and not confirmed():
        return confirm_first(_("Stop your monthly gift?"), [
            _("Your monthly gift of %(amount)s stops now: nothing more will be charged to your card.",
              amount=money_text(gift.amount_cents, current_fund().currency)),
            _("The gifts you already made, their receipts and your statements stay as they are."),
            _("To give monthly again later, start a new monthly gift on the donate page.")],
            _("Stop my monthly gift"), url_for("donor.index"))
    try:
        portal.end_monthly_gift(current_fund(), gift, by_donor=True)
    except gateway.GatewayError:
        db.session.rollback()
        current_app.logger.exception("could not cancel a subscription")
        flash(_("We could not reach the card processor, so the monthly gift is not stopped yet. Please try again "
                "in a minute."), "error")
    else:
        db.session.commit()
        flash(_("Your monthly gift is stopped. Nothing more will be charged. Thank you for your support."), "success")
    return redirect(url_for("donor.index"))
