"""Stripe, through the official SDK: checkouts, webhooks, and money facts.

Every call goes to ``STRIPE_API_BASE`` when it is set (the local Stripe server
in local mode and tests) and to Stripe itself otherwise. Objects come back as
plain dicts (``to_dict``) and leave this module as the facts of ``facts.py``.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

import stripe
from flask import current_app

from fundapp.payments.facts import DisputeMovement, PaymentSettled, PayoutFact, RefundSettled

#: Seconds a webhook's signature timestamp may be old before it is refused (a replay).
SIGNATURE_TOLERANCE = 300


class PaymentFailed(Exception):
    """The card was refused; the message is Stripe's, for the payer."""


class InvalidEvent(ValueError):
    """A webhook body whose signature is missing, wrong or too old, or that is not an event."""


class FactsIncomplete(RuntimeError):
    """Stripe has not yet got what booking needs (e.g. the balance transaction); try again later."""


class LocalModeUnsafe(RuntimeError):
    pass


class GatewayError(RuntimeError):
    """Stripe could not be reached or refused the request; nothing was decided, try again later."""


def _stripe_errors(function):
    """Turn the SDK's errors (other than a declined card) into GatewayError, so callers need not import stripe."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except stripe.CardError:
            raise
        except stripe.StripeError as exc:
            raise GatewayError(f"{type(exc).__name__}: {exc.user_message or exc}"[:300]) from exc
    return wrapper


def local_mode(config=None) -> bool:
    """True when the app talks to a local Stripe server (tests, ``make run``) instead of Stripe."""
    return bool((config or current_app.config).get("STRIPE_API_BASE"))


def check_local_mode(config) -> None:
    """Local mode is for test keys on this machine only: refuse a live key or a remote address."""
    base = config.get("STRIPE_API_BASE")
    if not base:
        return
    key = config.get("STRIPE_SECRET_KEY") or ""
    if key.startswith(("sk_live", "rk_live")):
        raise LocalModeUnsafe("STRIPE_API_BASE is set (local mode) but STRIPE_SECRET_KEY is a live key: refusing.")
    host = urlsplit(base).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise LocalModeUnsafe(f"STRIPE_API_BASE must be a loopback address in local mode, not {host!r}.")


def client() -> stripe.StripeClient:
    config = current_app.config
    options = {"max_network_retries": 2}
    if local_mode(config):
        options = {"base_addresses": {"api": config["STRIPE_API_BASE"]}, "max_network_retries": 0}
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], **options)


def _plain(obj) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def object_id(value) -> str | None:
    """An expandable field: an id, an object with an id, or nothing."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


def _day(timestamp: int):
    return datetime.fromtimestamp(timestamp, timezone.utc).date()


# --- checkout ------------------------------------------------------------------------------------


#: Stripe's limit on a Checkout Session's custom text (``custom_text.submit.message``).
CUSTOM_TEXT_MAX = 1200


def checkout_session_params(*, amount_cents: int, fee_cover_cents: int, currency: str, monthly: bool,
                            gift_label: str, fee_label: str, metadata: dict, email: str, locale: str,
                            success_url: str, cancel_url: str, statement: str = "") -> dict:
    """What ``create_checkout_session`` sends: the gift (and the fee cover as its own line), shown as a
    donation, with ``statement`` (the fund's tax statement) beside the pay button."""
    def line(label: str, cents: int) -> dict:
        price = {"currency": currency.lower(), "unit_amount": cents, "product_data": {"name": label}}
        if monthly:
            price["recurring"] = {"interval": "month"}
        return {"price_data": price, "quantity": 1}

    params = {
        "mode": "subscription" if monthly else "payment",
        "line_items": [line(gift_label, amount_cents)] + ([line(fee_label, fee_cover_cents)] if fee_cover_cents else []),
        "customer_email": email,
        "client_reference_id": metadata.get("donation"),
        "metadata": metadata,
        "locale": locale,
        "success_url": success_url,
        "cancel_url": cancel_url,
        # The pinned API version takes submit_type in subscription mode too ("can only be specified on
        # Checkout Sessions in payment or subscription mode": SessionCreateParams, stripe 16.1.0).
        "submit_type": "donate",
    }
    if monthly:
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["payment_intent_data"] = {"metadata": metadata}
    if statement:
        if len(statement) > CUSTOM_TEXT_MAX:  # cut short, a legal statement would say something else
            raise ValueError(f"the statement for Checkout is {len(statement)} characters; Stripe takes "
                             f"{CUSTOM_TEXT_MAX}")
        params["custom_text"] = {"submit": {"message": statement}}
    return params


@_stripe_errors
def create_checkout_session(*, amount_cents: int, fee_cover_cents: int, currency: str, monthly: bool,
                            gift_label: str, fee_label: str, metadata: dict, email: str, locale: str,
                            success_url: str, cancel_url: str, idempotency_key: str,
                            statement: str = "") -> tuple[str, str]:
    """A Stripe Checkout Session for the gift (see ``checkout_session_params``); returns (id, url)."""
    params = checkout_session_params(
        amount_cents=amount_cents, fee_cover_cents=fee_cover_cents, currency=currency, monthly=monthly,
        gift_label=gift_label, fee_label=fee_label, metadata=metadata, email=email, locale=locale,
        success_url=success_url, cancel_url=cancel_url, statement=statement)
    session = client().v1.checkout.sessions.create(params=params, options={"idempotency_key": idempotency_key})
    return session.id, session.url


@dataclass(frozen=True)
class TestPayment:
    status: str  # "succeeded", "processing", "requires_action"
    payment_intent_id: str | None
    subscription_id: str | None = None


@_stripe_errors
def pay_with_test_card(*, card_number: str, exp_month: int, exp_year: int, cvc: str, amount_cents: int,
                       currency: str, monthly: bool, metadata: dict, email: str, name: str, description: str,
                       idempotency_key: str) -> TestPayment:
    """Local mode's stand-in for Checkout: pay through the Stripe API with a Stripe test card.

    Only for the local Stripe server (it accepts raw test card numbers, as Stripe's own test mode
    does not through the API). The same webhooks follow as after a real Checkout.
    """
    if not local_mode():
        raise LocalModeUnsafe("test card payments exist only in local mode")
    api = client().v1
    try:
        method = api.payment_methods.create(params={
            "type": "card", "billing_details": {"email": email, "name": name},
            "card": {"number": card_number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}})
        if not monthly:
            intent = api.payment_intents.create(params={
                "amount": amount_cents, "currency": currency.lower(), "payment_method": method.id, "confirm": True,
                "metadata": metadata}, options={"idempotency_key": idempotency_key})
            return TestPayment(intent.status, intent.id)
        customer = api.customers.create(params={
            "email": email, "name": name, "payment_method": method.id,
            "invoice_settings": {"default_payment_method": method.id}, "metadata": metadata})
        product = api.products.create(params={"name": description})
        plan = api.plans.create(params={"amount": amount_cents, "currency": currency.lower(), "interval": "month",
                                        "product": product.id})
        subscription = api.subscriptions.create(params={
            "customer": customer.id, "items": [{"plan": plan.id}], "metadata": metadata},
            options={"idempotency_key": idempotency_key})
        return TestPayment("succeeded" if subscription.status == "active" else subscription.status, None,
                           subscription.id)
    except stripe.CardError as exc:
        raise PaymentFailed(exc.user_message or "The card was declined.") from exc


@_stripe_errors
def authenticate_test_payment(payment_intent_id: str, success: bool) -> str:
    """Answer the local server's 3-D Secure challenge; returns the payment's new status."""
    if not local_mode():
        raise LocalModeUnsafe("test 3-D Secure exists only in local mode")
    stripe_client = client()
    intent = stripe_client.v1.payment_intents.retrieve(payment_intent_id)
    stripe_client.raw_request("post", f"/v1/payment_intents/{payment_intent_id}/_authenticate",
                              client_secret=intent.client_secret, success="true" if success else "false")
    return stripe_client.v1.payment_intents.retrieve(payment_intent_id).status


# --- webhooks ------------------------------------------------------------------------------------


def verify_event(payload: bytes, signature: str | None) -> dict:
    """The event, if ``signature`` proves Stripe (or the local server) sent ``payload`` recently."""
    try:
        stripe.Webhook.construct_event(payload, signature or "", current_app.config["STRIPE_WEBHOOK_SECRET"],
                                       tolerance=SIGNATURE_TOLERANCE)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise InvalidEvent(str(exc)[:200]) from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise InvalidEvent("not a Stripe event")
    return event


# --- money facts ---------------------------------------------------------------------------------


@_stripe_errors
def settled_payment_for_intent(payment_intent_id: str) -> PaymentSettled | None:
    """The settled charge of a PaymentIntent, or None while it has not succeeded."""
    intent = _plain(client().v1.payment_intents.retrieve(payment_intent_id))
    if intent.get("status") != "succeeded":
        return None
    charge_id = object_id(intent.get("latest_charge")) or next(
        (c["id"] for c in (intent.get("charges") or {}).get("data", []) if c.get("status") == "succeeded"), None)
    return settled_charge(charge_id, intent=intent) if charge_id else None


@_stripe_errors
def settled_charge(charge_id: str, intent: dict | None = None) -> PaymentSettled | None:
    """A charge's money facts from its balance transaction, or None if it has not succeeded."""
    api = client().v1
    charge = _plain(api.charges.retrieve(charge_id, params={"expand": ["balance_transaction"]}))
    if charge.get("status") != "succeeded" or not charge.get("paid", True):
        return None
    txn = charge.get("balance_transaction")
    if not isinstance(txn, dict):
        raise FactsIncomplete(f"charge {charge_id} has no balance transaction yet")
    if intent is None and object_id(charge.get("payment_intent")):
        intent = _plain(api.payment_intents.retrieve(object_id(charge["payment_intent"])))
    billing = charge.get("billing_details") or {}
    if not billing.get("email") and object_id(charge.get("payment_method")):
        billing = _plain(api.payment_methods.retrieve(object_id(charge["payment_method"]))).get("billing_details") or {}
    invoice_id = object_id(charge.get("invoice")) or object_id((intent or {}).get("invoice"))
    subscription_id = None
    if invoice_id:
        invoice = _plain(api.invoices.retrieve(invoice_id))
        subscription_id = object_id(invoice.get("subscription")) or object_id(
            ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription"))
    subscription_metadata = {}
    if subscription_id:  # a monthly gift's own metadata (our donation token) lives on the subscription
        subscription_metadata = _plain(api.subscriptions.retrieve(subscription_id)).get("metadata") or {}
    gross, fee, net = int(txn["amount"]), int(txn["fee"]), int(txn["net"])
    if gross != fee + net:
        raise FactsIncomplete(f"balance transaction {txn.get('id')} does not add up")
    return PaymentSettled(
        charge_id=charge["id"], payment_intent_id=object_id(charge.get("payment_intent")), invoice_id=invoice_id,
        subscription_id=subscription_id, customer_id=object_id(charge.get("customer")),
        gross_cents=gross, fee_cents=fee, net_cents=net, currency=str(txn.get("currency") or charge["currency"]).upper(),
        day=_day(charge["created"]),
        metadata={**subscription_metadata, **((intent or {}).get("metadata") or {}), **(charge.get("metadata") or {})},
        email=(billing.get("email") or charge.get("receipt_email") or "").strip().lower(),
        name=(billing.get("name") or "").strip(), description=charge.get("description") or "")


@_stripe_errors
def refunds_for_charge(charge_id: str) -> list[RefundSettled]:
    """Every succeeded refund of a charge."""
    refunds = client().v1.refunds.list(params={"charge": charge_id, "limit": 100})
    found = []
    for refund in refunds.auto_paging_iter():
        refund = _plain(refund)
        if refund.get("status") == "succeeded":
            found.append(RefundSettled(refund["id"], charge_id, int(refund["amount"]),
                                       str(refund["currency"]).upper(), _day(refund["created"])))
    return found


@_stripe_errors
def refund_charge(charge_id: str, amount_cents: int, idempotency_key: str) -> str:
    """Ask Stripe to refund; the money is booked when Stripe's facts say it is done."""
    refund = client().v1.refunds.create(params={"charge": charge_id, "amount": amount_cents},
                                        options={"idempotency_key": idempotency_key})
    return refund.id


@_stripe_errors
def charge_ids_since(since: datetime) -> list[str]:
    """Ids of the account's charges created after ``since`` (every charge, whoever started it)."""
    listing = client().v1.charges.list(params={"created": {"gt": int(since.timestamp())}, "limit": 100})
    return [charge.id for charge in listing.auto_paging_iter()]


def _fresh(kind: str, obj: dict, **params) -> dict:
    """The object as Stripe has it now; the signed event's copy if Stripe cannot be asked for it.

    Disputes and payouts are booked from their balance transactions and amounts, which never
    change once made and are booked once each by id, so an older copy cannot double-book. The
    local Stripe server has no disputes and pays out only in euros; there the event's copy serves.
    """
    try:
        service = getattr(client().v1, kind)
        return _plain(service.retrieve(obj["id"], params=params or None))
    except (stripe.InvalidRequestError, stripe.APIError) as exc:
        if exc.http_status != 404:
            raise
        return obj


@_stripe_errors
def dispute_movements(dispute: dict) -> list[DisputeMovement]:
    """Each balance transaction of a dispute: the withdrawal when it opens, a reinstatement if it is won."""
    dispute = _fresh("disputes", dispute, expand=["balance_transactions"])
    movements = []
    for txn in dispute.get("balance_transactions") or []:
        if not isinstance(txn, dict):
            raise FactsIncomplete(f"dispute {dispute['id']} lists a balance transaction without its amounts")
        movements.append(DisputeMovement(
            balance_transaction_id=txn["id"], dispute_id=dispute["id"], charge_id=object_id(dispute.get("charge")),
            amount_cents=int(txn["amount"]), fee_cents=int(txn.get("fee") or 0),
            currency=str(txn.get("currency") or dispute.get("currency")).upper(), day=_day(txn["created"]),
            status=str(dispute.get("status") or "")))
    return movements


@_stripe_errors
def payout_fact(payout: dict) -> PayoutFact:
    payout = _fresh("payouts", payout)
    return PayoutFact(payout_id=payout["id"], amount_cents=int(payout["amount"]),
                      currency=str(payout["currency"]).upper(),
                      day=_day(payout.get("arrival_date") or payout["created"]), status=payout.get("status", ""))


@_stripe_errors
def cancel_subscription(subscription_id: str) -> None:
    """End a monthly gift at Stripe now; an already-ended one is fine."""
    try:
        client().v1.subscriptions.cancel(subscription_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404 and "canceled" not in str(exc).lower():
            raise


@_stripe_errors
def stripe_balance_cents(currency: str) -> int | None:
    """Stripe's own figure for the account's balance in ``currency`` (available plus pending), or None
    if Stripe reports no balance in it (the local test server keeps a made-up euro balance)."""
    balance = _plain(client().v1.balance.retrieve())

    def parts(kind):
        found = balance.get(kind) or []
        return found if isinstance(found, list) else [found]

    amounts = [int(part["amount"]) for kind in ("available", "pending") for part in parts(kind)
               if str(part.get("currency", "")).upper() == currency.upper()]
    return sum(amounts) if amounts else None


def _listed_since(kind: str, since: datetime) -> list[dict]:
    """Every object of ``kind`` created after ``since`` (filtered here: the local server has no ``created``
    filter on these lists); none if the server has no such list (the local server has no disputes)."""
    try:
        listing = getattr(client().v1, kind).list(params={"limit": 100})
        return [_plain(obj) for obj in listing.auto_paging_iter() if obj.created > since.timestamp()]
    except (stripe.InvalidRequestError, stripe.APIError) as exc:
        if exc.http_status != 404:
            raise
        return []


@_stripe_errors
def payouts_since(since: datetime) -> list[PayoutFact]:
    return [payout_fact(payout) for payout in _listed_since("payouts", since)]


@_stripe_errors
def disputes_since(since: datetime) -> list[dict]:
    return _listed_since("disputes", since)
