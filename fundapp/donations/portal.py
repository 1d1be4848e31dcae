"""The donor portal: sign-in by an emailed one-time link, the donor's monthly gifts, and ending one (by the
donor, or because Stripe says its subscription is over); telling a donor when a month's gift was not paid.
Functions flush; the caller commits."""
from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from fundapp.audit.services import record_change
from fundapp.donations.models import Donor, MonthlyGift
from fundapp.extensions import db, utcnow
from fundapp.funds.models import Fund
from fundapp.mail import public_link, queue_mail, queue_request, request_handler
from fundapp.money import format_cents
from fundapp.payments import gateway
from fundapp.payments.facts import InvoiceUnpaid, SubscriptionChanged

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
                     "%(fund)s", name=donor.name, link=public_link("donor.follow_link", fund=fund, token=token), fund=fund.name),
                   fund_id=fund.id)


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


def monthly_gifts(donor: Donor) -> list[MonthlyGift]:
    return list(db.session.scalars(db.select(MonthlyGift).filter_by(donor_id=donor.id).order_by(MonthlyGift.id)))


def end_monthly_gift(fund: Fund, gift: MonthlyGift, *, by_donor: bool, fund_closing: bool = False) -> None:
    """Stop a monthly gift: cancel the subscription at Stripe (when the donor asks, or the fund closes) and mark it
    ended."""
    if gift.ended_at is not None:
        return
    if by_donor or fund_closing:
        gateway.cancel_subscription(gift.stripe_subscription_id)
    gift.ended_at = utcnow().replace(microsecond=0)
    record_change("monthly_gift.end", "monthly_gift", gift.id, fund_id=fund.id,
                  after={"by": "donor" if by_donor else "fund closed" if fund_closing else "stripe"})


def subscription_changed(fund: Fund, fact: SubscriptionChanged) -> None:
    """A monthly gift's subscription changed or ended: when Stripe says it is over, the gift ends here too."""
    gift = db.session.scalar(db.select(MonthlyGift).filter_by(stripe_subscription_id=fact.subscription_id))
    if gift is not None and fact.status in ("canceled", "incomplete_expired"):
        end_monthly_gift(fund, gift, by_donor=False)


def invoice_payment_failed(fund: Fund, unpaid: InvoiceUnpaid) -> None:
    """Stripe could not collect a monthly gift: tell the donor, in their language, where to pay it with
    another card (Stripe's invoice page) and where to stop the gift."""
    gift = db.session.scalar(db.select(MonthlyGift).filter_by(
        stripe_subscription_id=unpaid.subscription_id)) if unpaid.subscription_id else None
    if gift is None or gift.ended_at is not None:
        return
    donor = db.session.get(Donor, gift.donor_id)
    if not donor.email:
        return
    with force_locale(donor.language):
        locale = "es_US" if donor.language == "es" else "en_US"  # as giving.donor_locale() for a gift
        subject = _("Your monthly gift to %(fund)s did not go through", fund=fund.name)
        body = _("Hello %(name)s,\n\nYour bank or card did not pay this month's gift of %(amount)s. To pay it with "
                 "another card, use this page: %(pay_url)s\n\nTo stop your monthly gift, sign in to your gifts page: "
                 "%(portal_url)s\n\nThank you for standing with the strikers.\n\n%(fund)s", name=donor.name,
                 amount=format_cents(unpaid.amount_cents, fund.currency, locale),
                 pay_url=unpaid.pay_url or public_link("donor.login", fund=fund),
                 portal_url=public_link("donor.login", fund=fund), fund=fund.name)
    queue_mail(donor.email, subject, body, language=donor.language, fund_id=fund.id)
    record_change("monthly_gift.payment_failed", "monthly_gift", gift.id, fund_id=fund.id,
                  after={"invoice": unpaid.invoice_id, "amount_cents": unpaid.amount_cents})
