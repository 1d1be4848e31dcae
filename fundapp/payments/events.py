"""Stripe's webhook events: verified on arrival, and turned into facts when the worker applies them.

The webhook view calls ``verify`` and stores what it returns (``facts.ReceivedEvent``); the worker later hands
the stored body to ``facts_of``, which reads the event's own object only for ids and non-money details (a
checkout's donation token, the address the payer typed, a refused card's message) and fetches every money
object back from Stripe by id (``gateway``): nothing is booked from an event's own copy. The facts go to
``donations.booking.apply_fact``; nothing Stripe-shaped leaves this package.

Each event type fundapp reads has one reader here (``READERS``); any other type is not read (``facts_of`` says
None). Fields are read off the event's dicts under the SDK class's name (``session``, ``intent``, ``charge`` ...):
tests/test_stripe_contract.py checks every such read against the pinned API version's schema, as for gateway.py.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from flask import current_app

from fundapp.payments import gateway
from fundapp.payments.facts import (
    ChargeHistory,
    CheckoutCompleted,
    CheckoutExpired,
    Fact,
    InvoiceUnpaid,
    PaymentFailed,
    PayoutFact,
    PostalAddress,
    ReceivedEvent,
    SubscriptionChanged,
    WrongApiVersion,
)
from fundapp.payments.gateway import API_VERSION, object_id

#: Seconds a webhook's signature timestamp may be old before it is refused (a replay).
SIGNATURE_TOLERANCE = 300


class InvalidEvent(ValueError):
    """A webhook body whose signature is missing, wrong or too old, or that is not an event."""


def verify(payload: bytes, signature: str | None) -> ReceivedEvent:
    """The event, if ``signature`` proves Stripe (or the local server) sent ``payload`` recently."""
    import stripe

    try:
        # The signature first, then the body: Webhook.construct_event would build an Event from any JSON
        # (a list, say) and fail on it in its own way.
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature or "",
                                              current_app.config["STRIPE_WEBHOOK_SECRET"], SIGNATURE_TOLERANCE)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise InvalidEvent(str(exc)[:200]) from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise InvalidEvent("not a Stripe event")
    return received(event)


def received(event: dict[str, Any]) -> ReceivedEvent:
    """An event as the queue keeps it (its body as sorted JSON)."""
    return ReceivedEvent(event_id=str(event["id"]), type=str(event["type"]),
                         payload=json.dumps(event, sort_keys=True))


def event_api_version(event: dict[str, Any]) -> str | None:
    """The API version an event was rendered in (None when the event does not say)."""
    version = event.get("api_version")
    return version if isinstance(version, str) else None


def check_api_version(event: dict[str, Any]) -> None:
    """In production, an event rendered in another API version than the one this code reads is refused
    (its objects may lack or rename fields): the endpoint must be set to ``gateway.API_VERSION``."""
    version = event_api_version(event)
    if current_app.config.get("ENV_NAME") == "production" and version != API_VERSION:
        raise WrongApiVersion(
            f"event {event.get('id')} is in Stripe API version {version or '(none)'}, but fundapp reads "
            f"{API_VERSION}: set the webhook endpoint's API version to {API_VERSION}")


def facts_of(payload: str) -> Iterator[Fact] | None:
    """The facts a stored event stands for, or None for a type fundapp does not read. The API version is
    checked at once (``WrongApiVersion``); each money fact is fetched back from Stripe as it is asked for, so
    the caller books one before the next is fetched (``NotConfirmed`` when Stripe does not know an object,
    ``RetryLater`` when it cannot say yet)."""
    event = json.loads(payload)
    check_api_version(event)
    reader = READERS.get(str(event.get("type")))
    if reader is None:
        return None
    data = event.get("data") or {}
    return reader(data.get("object") or {})


def charge_history(charge_id: str) -> ChargeHistory | None:
    """Everything Stripe says about one charge now: the payment, and each refund; None if it has not settled."""
    payment = gateway.settled_charge(charge_id)
    if payment is None:
        return None
    return ChargeHistory(payment, tuple(gateway.refunds_for_charge(charge_id)))


def dispute_facts(dispute_id: str) -> Iterator[Fact]:
    """Each money movement of a dispute as Stripe lists it now, each charge's own history first (its gift may not
    be booked yet, its own event still to come)."""
    movements = gateway.dispute_movements(dispute_id)
    for charge_id in dict.fromkeys(movement.charge_id for movement in movements):
        history = charge_history(charge_id)
        if history is not None:
            yield history
    yield from movements


def disputes_since(since: datetime) -> Iterator[Fact]:
    """Every dispute's movements (and charges) since ``since``, for the reconciliation sweep."""
    for dispute_id in gateway.dispute_ids_since(since):
        yield from dispute_facts(dispute_id)


def payouts_since(since: datetime) -> list[PayoutFact]:
    return gateway.payouts_since(since)


# --- one reader per event type ----------------------------------------------------------------------------


def checkout_address(completed: dict[str, Any]) -> PostalAddress | None:
    """The billing address the payer gave at Checkout (``customer_details.address``, asked for large gifts),
    from the session in a ``checkout.session.completed`` event whose signature was verified; None when it
    holds none. An address is not money: it is read from the signed event, not fetched back (the local Stripe
    server has no Checkout Sessions)."""
    import stripe

    session = stripe.checkout.Session.construct_from(dict(completed), None, stripe_version=API_VERSION)
    buyer = session.customer_details if "customer_details" in session else None
    return gateway.postal_address(buyer.address if buyer is not None and "address" in buyer else None)


def _text(value: Any) -> str | None:
    return str(value) if value else None


def _donation_token(session: dict[str, Any]) -> str | None:
    metadata = session.get("metadata") or {}
    return _text(session.get("client_reference_id") or metadata.get("donation"))


def _checkout_completed(session: dict[str, Any]) -> Iterator[Fact]:
    """A finished checkout names its payment; paid by bank debit, the payment may still be on its way."""
    intent_id = object_id(session.get("payment_intent"))
    yield CheckoutCompleted(
        session_id=_text(session.get("id")), donation_token=_donation_token(session),
        payment_intent_id=intent_id, subscription_id=object_id(session.get("subscription")),
        customer_id=object_id(session.get("customer")), address=checkout_address(session),
        processing=bool(session.get("payment_status") == "unpaid" and intent_id
                        and gateway.payment_status(intent_id) == "processing"))


def _checkout_expired(session: dict[str, Any]) -> Iterator[Fact]:
    yield CheckoutExpired(session_id=_text(session.get("id")), donation_token=_donation_token(session))


def _async_payment(session: dict[str, Any]) -> Iterator[Fact]:
    """A bank debit settled or failed, days after the checkout: Stripe's payment says which."""
    intent_id = object_id(session.get("payment_intent"))
    if not intent_id:
        return
    status = gateway.payment_status(intent_id)
    if status == "succeeded":
        payment = gateway.settled_payment_for_intent(intent_id)
        if payment is not None:
            yield payment
    elif status in ("requires_payment_method", "canceled"):
        yield PaymentFailed(donation_token=_donation_token(session), by_bank=True)


def _intent_succeeded(intent: dict[str, Any]) -> Iterator[Fact]:
    payment = gateway.settled_payment_for_intent(str(intent["id"]))
    if payment is not None:
        yield payment


def _payment_failed(intent: dict[str, Any]) -> Iterator[Fact]:
    metadata = intent.get("metadata") or {}
    error = intent.get("last_payment_error") or {}
    yield PaymentFailed(donation_token=_text(metadata.get("donation")), message=str(error.get("message") or ""))


def _charge_succeeded(charge: dict[str, Any]) -> Iterator[Fact]:
    history = charge_history(str(charge["id"]))
    if history is not None:
        yield history


def _invoice_paid(invoice: dict[str, Any]) -> Iterator[Fact]:
    """A monthly gift's invoice was paid: the payments Stripe lists for it (``InvoicePayment``)."""
    for intent_id in gateway.paid_intents_of_invoice(str(invoice["id"])):
        payment = gateway.settled_payment_for_intent(intent_id)
        if payment is not None:
            yield payment


def _refund_event(refund: dict[str, Any]) -> Iterator[Fact]:
    """A refund changed (the event's object is the refund, or for ``charge.refunded`` the charge)."""
    charge_id = refund["id"] if refund.get("object") == "charge" else object_id(refund.get("charge"))
    if charge_id:
        history = charge_history(str(charge_id))
        if history is not None:
            yield history


def _dispute_event(dispute: dict[str, Any]) -> Iterator[Fact]:
    yield from dispute_facts(str(dispute["id"]))


def _payout_event(payout: dict[str, Any]) -> Iterator[Fact]:
    yield gateway.payout_fact(str(payout["id"]), with_lines=True)  # an installation of several funds splits it


def _subscription_changed(subscription: dict[str, Any]) -> Iterator[Fact]:
    """What counts is the subscription's status at Stripe now, not the event's copy."""
    subscription_id = str(subscription["id"])
    yield SubscriptionChanged(subscription_id, gateway.subscription_status(subscription_id))


def _invoice_payment_failed(invoice: dict[str, Any]) -> Iterator[Fact]:
    unpaid: InvoiceUnpaid | None = gateway.unpaid_invoice(str(invoice["id"]))
    if unpaid is not None:
        yield unpaid


READERS: dict[str, Callable[[dict[str, Any]], Iterator[Fact]]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.expired": _checkout_expired,
    "checkout.session.async_payment_succeeded": _async_payment,
    "checkout.session.async_payment_failed": _async_payment,
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _payment_failed,
    "charge.succeeded": _charge_succeeded,
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
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
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
}
