"""Giving: the donate form, the checkout (Stripe's, or local mode's test page), thanks and receipt, the webhook."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from fundapp.donations import events, giving, receipts
from fundapp.donations.forms import PRESETS, DonateForm, TestCardForm
from fundapp.donations.models import Donation, DonationStatus, Frequency, WallStatus
from fundapp.extensions import csrf, db
from fundapp.funds.models import FundStatus
from fundapp.funds.services import current_fund, give_instead, settings_key
from fundapp.money import decimal_text, format_cents
from fundapp.payments import checkout, gateway, test_mode
from fundapp.payments import events as stripe_events
from fundapp.policy import current_donor_id, public
from fundapp.web import download, render_for_everyone, show_error

bp = Blueprint("donations", __name__)


def _donation(token: str) -> Donation:
    donation = db.session.scalar(db.select(Donation).filter_by(fund_id=current_fund().id, token=token))
    if donation is None:
        abort(404)
    return donation


def _gift(form: DonateForm) -> giving.GiftRequest:
    return giving.GiftRequest(
        amount_cents=form.amount_cents(), monthly=form.frequency.data == "monthly", cover_fee=form.cover_fee.data,
        name=form.name.data, email=form.email.data, anonymous=form.anonymous.data, on_wall=form.on_wall.data,
        wall_message=form.wall_message.data or "", dedication_kind=form.dedication_kind.data,
        dedication_name=form.dedication_name.data or "", language=str(get_locale() or "en"))


def _prefill(form: DonateForm, donation: Donation) -> None:
    """A donor back from the checkout finds the form as they left it."""
    preset = str(donation.amount_cents)
    form.amount.data = preset if int(preset) in PRESETS else "other"
    form.other_amount.data = "" if form.amount.data != "other" else decimal_text(donation.amount_cents)
    form.frequency.data = donation.frequency
    form.cover_fee.data = bool(donation.fee_cover_cents)
    form.name.data, form.email.data = donation.donor.name, donation.donor.email
    form.anonymous.data = donation.anonymous
    form.on_wall.data = donation.wall_status != WallStatus.HIDDEN
    form.wall_message.data = donation.wall_message
    form.dedication_kind.data, form.dedication_name.data = donation.dedication_kind, donation.dedication_name


def checkout_details(fund, donation: Donation) -> dict:
    """What the Checkout Session for ``donation`` is made of, in the donor's language (with the fund's tax
    statement beside the pay button, as on the donate page)."""
    return dict(
        amount_cents=donation.amount_cents, fee_cover_cents=donation.fee_cover_cents, currency=fund.currency,
        monthly=donation.frequency == Frequency.MONTHLY, gift_label=_("Gift to %(fund)s", fund=fund.name),
        fee_label=_("Card fee, covered by you"), metadata=giving.checkout_metadata(donation),
        email=donation.donor.email, locale=donation.language,
        statement=giving.tax_statement(fund, donation.language),
        billing_address=donation.total_cents >= giving.LARGE_GIFT_CENTS,
        success_url=url_for("donations.thanks", token=donation.token, _external=True),
        cancel_url=url_for("donations.donate", again=donation.token, _external=True))


def _checkout_url(donation: Donation) -> str:
    if gateway.local_mode():
        return url_for("donations.test_checkout", token=donation.token)
    fund = current_fund()
    session_id, url = checkout.create_checkout_session(**checkout_details(fund, donation),
                                                      idempotency_key=f"checkout-{donation.token}")
    donation.stripe_checkout_session_id = session_id
    db.session.commit()
    return url


@bp.route("/donate", methods=["GET", "POST"])
@public
def donate():
    fund = current_fund()
    if fund.status == FundStatus.CLOSED:  # no new gift: say where to give instead
        return render_template("donations/closed.html", fund=fund, instead=give_instead(fund)), \
            409 if request.method == "POST" else 200
    form = DonateForm(currency=fund.currency)
    if request.method == "GET" and request.args.get("again"):
        earlier = db.session.scalar(db.select(Donation).filter_by(fund_id=fund.id, token=request.args["again"]))
        if earlier is not None and earlier.status in (DonationStatus.PENDING, DonationStatus.FAILED):
            _prefill(form, earlier)
    if form.validate_on_submit():
        try:
            donation = giving.start_donation(fund, _gift(form))
        except giving.DonationError as exc:
            db.session.rollback()
            if exc.field == "amount" and form.amount.data == "other":
                exc.field = "other_amount"
            show_error(form, exc, "amount")
        else:
            db.session.commit()
            try:
                return redirect(_checkout_url(donation))
            except gateway.GatewayError:
                current_app.logger.exception("could not start a checkout")
                flash(_("We could not reach the card processor. Nothing was charged. Please try again in a "
                        "minute."), "error")
    test = gateway.local_mode()
    page = render_for_everyone(
        lambda: render_template("donations/donate.html", form=form, fund=fund, fee_example=giving.fee_cover_for(2500),
                                tax_statement=giving.tax_statement(fund), test_mode=test),
        not current_user.is_authenticated and current_donor_id() is None, settings_key(fund), test)
    return page, 422 if form.errors else 200


@bp.route("/donate/test-checkout/<token>", methods=["GET", "POST"])
@public
def test_checkout(token):
    """Local mode's stand-in for Stripe Checkout: a test card paid through the Stripe API."""
    if not gateway.local_mode():
        abort(404)
    donation = _donation(token)
    if donation.status not in (DonationStatus.PENDING, DonationStatus.FAILED):
        return redirect(url_for("donations.thanks", token=token))
    form = TestCardForm()
    attempt = request.form.get("attempt") or secrets.token_hex(8)
    declined = False
    large = donation.total_cents >= giving.LARGE_GIFT_CENTS
    if form.validate_on_submit() and large and (form.billing_address() is None or not form.address_city.data
                                                 or not form.address_postal_code.data):
        form.address_line1.errors.append(_("For a gift of %(limit)s or more, enter the billing address, as "
                                           "Stripe's checkout asks.",
                                           limit=format_cents(giving.LARGE_GIFT_CENTS, donation.currency)))
    elif form.validate_on_submit():
        giving.retry_donation(donation)
        month, year = form.expiry.data.split("/")
        try:
            paid = test_mode.pay_with_test_card(
                card_number=form.card_number.data.replace(" ", ""), exp_month=int(month), exp_year=2000 + int(year),
                cvc=form.cvc.data, amount_cents=donation.total_cents, currency=donation.currency,
                monthly=donation.frequency == Frequency.MONTHLY, metadata=giving.checkout_metadata(donation),
                email=donation.donor.email, name=donation.donor.name,
                billing_address=form.billing_address() if large else None,
                description=_("Gift to %(fund)s", fund=current_fund().name),
                idempotency_key=f"test-{donation.token}-{attempt}")
        except gateway.PaymentFailed as exc:
            giving.mark_failed(donation, str(exc))
            db.session.commit()
            form.card_number.errors.append(_("The card was declined. Nothing was charged. Try another card."))
            declined = True
        except gateway.GatewayError:
            db.session.rollback()
            current_app.logger.exception("test checkout failed")
            flash(_("We could not reach the card processor. Nothing was charged. Please try again in a minute."),
                  "error")
        else:
            donation.stripe_payment_intent_id = paid.payment_intent_id
            donation.stripe_subscription_id = paid.subscription_id
            db.session.commit()
            if paid.status == "requires_action":
                return redirect(url_for("donations.test_secure", token=token))
            return redirect(url_for("donations.thanks", token=token))
    return render_template("donations/test_checkout.html", form=form, donation=donation, attempt=attempt,
                           fund=current_fund(), declined=declined, large=large), 422 if form.errors else 200


@bp.route("/donate/test-checkout/<token>/secure", methods=["GET", "POST"])
@public
def test_secure(token):
    """Local mode's 3-D Secure step: the donor approves or refuses, as their bank's page would ask."""
    if not gateway.local_mode():
        abort(404)
    donation = _donation(token)
    if donation.stripe_payment_intent_id is None or donation.status != DonationStatus.PENDING:
        return redirect(url_for("donations.thanks", token=token))
    if request.method == "POST":
        approve = request.form.get("decision") == "approve"
        try:
            status = test_mode.authenticate_test_payment(donation.stripe_payment_intent_id, approve)
        except gateway.GatewayError:
            current_app.logger.exception("test 3-D Secure failed")
            abort(502)
        if status == "succeeded":
            return redirect(url_for("donations.thanks", token=token))
        giving.mark_failed(donation, _("The bank's check was not passed."))
        db.session.commit()
        flash(_("Your bank's check was not passed, so nothing was charged. You can try again."), "error")
        return redirect(url_for("donations.test_checkout", token=token))
    return render_template("donations/test_secure.html", donation=donation, fund=current_fund())


@bp.get("/thanks/<token>")
@public
def thanks(token):
    donation = _donation(token)
    return render_template("donations/thanks.html", donation=donation, fund=current_fund())


@bp.get("/thanks/<token>/status")
@public
def thanks_status(token):
    """The gift's status, polled by the thanks page's script while it says "confirming"."""
    return jsonify(status=_donation(token).status)


@bp.get("/thanks/<token>/receipt.pdf")
@public
def receipt(token):
    donation = _donation(token)
    if donation.receipt_number is None:
        abort(404)
    return download(receipts.receipt_for(current_fund(), donation), receipts.receipt_filename(donation))


@bp.post("/stripe/webhook")
@public
@csrf.exempt
def stripe_webhook():
    """Verify and store the event, then answer at once; the worker applies it (donations/events.py).
    A non-2xx answer makes Stripe deliver it again later."""
    try:
        event = stripe_events.verify(request.get_data(), request.headers.get("Stripe-Signature"))
    except stripe_events.InvalidEvent:
        return jsonify(error="invalid signature or payload"), 400
    try:
        stored = events.store_event(current_fund(), event)
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("webhook %s (%s) not stored, Stripe will retry: %s", event.event_id, event.type,
                                   exc)
        return jsonify(error="not stored; retry"), 503
    return jsonify(received=event.event_id, outcome="stored" if stored else "duplicate")
