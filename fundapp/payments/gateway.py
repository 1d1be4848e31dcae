"""Stripe, through the official SDK: the calls (checkouts, refunds, fetching objects back), and nothing else.

Every call goes to ``STRIPE_API_BASE`` when it is set (the local Stripe server
in local mode and tests) and to Stripe itself otherwise, in the API version the
installed SDK is generated for (``API_VERSION``, pinned on the client). Objects
leave this module as the facts of ``facts.py``; a webhook event is verified and
turned into facts by ``events.py``, which calls the functions here.

Money is booked only from objects fetched back from Stripe by id: an object
Stripe does not know (404) raises ``NotConfirmed`` and nothing is booked from the
event's own copy. The shapes read are the pinned version's (checked against the
SDK's typed classes by tests/test_stripe_contract.py): a charge reaches its
invoice through ``InvoicePayment`` (listed by payment intent), an invoice its
subscription through ``parent.subscription_details``, and a dispute lists its
balance transactions in full (never expanded).

The SDK (10 MB and half a second to import) is imported by the functions that
call it, not with this module: a page or a command that never talks to Stripe
(the books' reports above all) does not load it.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, Protocol, TypeVar, overload

from flask import current_app

if TYPE_CHECKING:
    import stripe

from fundapp.payments.facts import (
    DisputeMovement,
    InvoiceUnpaid,
    PaymentSettled,
    PayoutFact,
    PayoutLine,
    PostalAddress,
    RefundSettled,
)

# facts.py's errors, raised here too (explicit re-exports, for mypy --strict):
from fundapp.payments.facts import NotConfirmed as NotConfirmed
from fundapp.payments.facts import RetryLater as RetryLater
from fundapp.payments.facts import WrongApiVersion as WrongApiVersion
from fundapp.payments.local_mode import LocalModeUnsafe, check_local_mode  # noqa: F401  (callers know them here)


class PaymentFailed(Exception):
    """The card was refused; the message is Stripe's, for the payer."""


class FactsIncomplete(RetryLater):
    """Stripe has not yet got what booking needs (e.g. the balance transaction); try again later."""


class GatewayError(RetryLater):
    """Stripe could not be reached or refused the request; nothing was decided, try again later."""


#: The Stripe API version this code reads and the SDK is generated for (``stripe.api_version``, which
#: tests/test_stripe_contract.py holds it to); the webhook endpoint must send it too.
API_VERSION: str = "2026-10-28.endive"

#: What the gateway asks Stripe to expand, per resource (each must be an ``ExpandableField`` of the pinned
#: version: tests/test_stripe_contract.py checks them against the SDK's classes).
EXPANDS: dict[str, tuple[str, ...]] = {"charges.retrieve": ("balance_transaction",)}


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _stripe_errors(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn the SDK's errors (other than a declined card) into GatewayError, so callers need not import stripe."""
    import functools

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        import stripe

        try:
            return function(*args, **kwargs)
        except stripe.CardError:
            raise
        except stripe.StripeError as exc:
            raise GatewayError(f"{type(exc).__name__}: {exc.user_message or exc}"[:300]) from exc
    return wrapper


def local_mode(config: Mapping[str, Any] | None = None) -> bool:
    """True when the app talks to a local Stripe server (tests, ``make run``) instead of Stripe."""
    return bool((config or current_app.config).get("STRIPE_API_BASE"))


def client() -> stripe.StripeClient:
    """The process's client for the configured account and server: one per key and address, so its HTTP
    connections are kept and reused (the SDK's requests session is per thread) rather than a client, and a
    new connection, built for each call (about 2 ms of CPU each, three calls an event)."""
    config = current_app.config
    base = config["STRIPE_API_BASE"] if local_mode(config) else None
    return _client(config["STRIPE_SECRET_KEY"], base)


@functools.lru_cache(maxsize=8)
def _client(secret_key: str, local_base: str | None) -> stripe.StripeClient:
    import stripe  # here, not at the top: a report command never loads the SDK

    if local_base is not None:
        return stripe.StripeClient(secret_key, stripe_version=API_VERSION, base_addresses={"api": local_base},
                                   max_network_retries=0)
    return stripe.StripeClient(secret_key, stripe_version=API_VERSION, max_network_retries=2)


def _plain(obj: stripe.StripeObject | Mapping[str, Any]) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


@overload
def object_id(value: str | _HasId) -> str: ...
@overload
def object_id(value: str | _HasId | dict[str, Any] | None) -> str | None: ...
def object_id(value: str | _HasId | dict[str, Any] | None) -> str | None:
    """An expandable field: an id, an object with an id, or nothing."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id") if isinstance(value, dict) else value.id


def _moment(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _day(timestamp: int) -> date:
    """A date Stripe sends as a timestamp (a payout's arrival date: midnight UTC of that bank day)."""
    return _moment(timestamp).date()


# --- checkout ------------------------------------------------------------------------------------


#: Stripe's limit on a Checkout Session's custom text (``custom_text.submit.message``).
def postal_address(address: stripe.checkout.Session.CustomerDetails.Address | stripe.Charge.BillingDetails.Address | None
            ) -> PostalAddress | None:
    """A Stripe address as ours; None without a street line (Stripe gives every field, null when unknown)."""
    if address is None or not (address.line1 or "").strip():
        return None
    return PostalAddress(line1=(address.line1 or "").strip(), line2=(address.line2 or "").strip(),
                         city=(address.city or "").strip(), state=(address.state or "").strip(),
                         postal_code=(address.postal_code or "").strip(), country=(address.country or "").strip())


# --- money facts ---------------------------------------------------------------------------------


@_stripe_errors
def settled_payment_for_intent(payment_intent_id: str) -> PaymentSettled | None:
    """The settled charge of a PaymentIntent, or None while it has not succeeded."""
    intent = _confirmed("payment_intents", payment_intent_id)
    if intent.status != "succeeded" or intent.latest_charge is None:
        return None
    return settled_charge(object_id(intent.latest_charge), intent=intent)


@_stripe_errors
def settled_charge(charge_id: str, intent: stripe.PaymentIntent | None = None) -> PaymentSettled | None:
    """A charge's money facts from its balance transaction, or None if it has not succeeded."""
    import stripe

    api = client().v1
    charge = _confirmed("charges", charge_id, expand=list(EXPANDS["charges.retrieve"]))
    if charge.status != "succeeded" or not charge.paid:
        return None
    txn = charge.balance_transaction
    if not isinstance(txn, stripe.BalanceTransaction):
        raise FactsIncomplete(f"charge {charge_id} has no balance transaction yet")
    intent_id = object_id(charge.payment_intent)
    if intent is None and intent_id:
        intent = _confirmed("payment_intents", intent_id)
    billing = charge.billing_details
    email, name = billing.email or "", billing.name or ""
    method_id = object_id(charge.payment_method)
    if not email and method_id:
        method = api.payment_methods.retrieve(method_id)
        email, name = method.billing_details.email or "", method.billing_details.name or name
    invoice = invoice_of_payment(intent_id) if intent_id else None
    subscription_id: str | None = None
    subscription_metadata: dict[str, str] = {}
    if invoice is not None and invoice.parent is not None and invoice.parent.subscription_details is not None:
        details = invoice.parent.subscription_details
        subscription_id = object_id(details.subscription)
        # A monthly gift's own metadata (our donation token) lives on the subscription.
        subscription_metadata = _metadata(details.metadata) or (
            _metadata(api.subscriptions.retrieve(subscription_id).metadata) if subscription_id else {})
    gross, fee, net = int(txn.amount), int(txn.fee), int(txn.net)
    if gross != fee + net:
        raise FactsIncomplete(f"balance transaction {txn.id} does not add up")
    return PaymentSettled(
        charge_id=charge.id, payment_intent_id=intent_id, invoice_id=invoice.id if invoice is not None else None,
        subscription_id=subscription_id, customer_id=object_id(charge.customer),
        gross_cents=gross, fee_cents=fee, net_cents=net, currency=str(txn.currency or charge.currency).upper(),
        at=_moment(charge.created),
        metadata={**subscription_metadata, **(_metadata(intent.metadata) if intent is not None else {}),
                  **_metadata(charge.metadata)},
        email=(email or charge.receipt_email or "").strip().lower(), name=name.strip(),
        description=charge.description or "", address=postal_address(billing.address))


def invoice_of_payment(payment_intent_id: str) -> stripe.Invoice | None:
    """The invoice a payment intent paid (a monthly gift's), through its ``InvoicePayment``; None for a
    payment that paid no invoice."""
    api = client().v1
    listing = api.invoice_payments.list(params={"payment": {"type": "payment_intent",
                                                            "payment_intent": payment_intent_id}, "limit": 10})
    for invoice_payment in listing.data:
        if invoice_payment.status == "paid":
            return _confirmed("invoices", object_id(invoice_payment.invoice))
    return None


@_stripe_errors
def paid_intents_of_invoice(invoice_id: str) -> list[str]:
    """The payment intents that paid an invoice (``invoice.paid`` names the invoice, not the payment)."""
    _confirmed("invoices", invoice_id)
    listing = client().v1.invoice_payments.list(params={"invoice": invoice_id, "limit": 10})
    return [object_id(p.payment.payment_intent) for p in listing.data
            if p.status == "paid" and p.payment.payment_intent is not None]


def _metadata(value: stripe.StripeObject | Mapping[str, Any] | None) -> dict[str, str]:
    import stripe

    return {str(key): str(item) for key, item in (value.to_dict() if isinstance(value, stripe.StripeObject) else
                                                  dict(value or {})).items()}


@_stripe_errors
def refunds_for_charge(charge_id: str) -> list[RefundSettled]:
    """Every succeeded refund of a charge."""
    refunds = client().v1.refunds.list(params={"charge": charge_id, "limit": 100})
    found = []
    for listed in refunds.auto_paging_iter():
        refund = _plain(listed)
        if refund.get("status") == "succeeded":
            found.append(RefundSettled(refund["id"], charge_id, int(refund["amount"]),
                                       str(refund["currency"]).upper(), _moment(refund["created"])))
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


@overload
def _confirmed(kind: Literal["charges"], object_id_: str, **params: Any) -> stripe.Charge: ...
@overload
def _confirmed(kind: Literal["payment_intents"], object_id_: str, **params: Any) -> stripe.PaymentIntent: ...
@overload
def _confirmed(kind: Literal["invoices"], object_id_: str, **params: Any) -> stripe.Invoice: ...
@overload
def _confirmed(kind: Literal["disputes"], object_id_: str, **params: Any) -> stripe.Dispute: ...
@overload
def _confirmed(kind: Literal["payouts"], object_id_: str, **params: Any) -> stripe.Payout: ...
@overload
def _confirmed(kind: Literal["subscriptions"], object_id_: str, **params: Any) -> stripe.Subscription: ...
@overload
def _confirmed(kind: Literal["refunds"], object_id_: str, **params: Any) -> stripe.Refund: ...
@overload
def _confirmed(kind: Literal["invoice_payments"], object_id_: str, **params: Any) -> stripe.InvoicePayment: ...
@overload
def _confirmed(kind: Literal["payment_methods"], object_id_: str, **params: Any) -> stripe.PaymentMethod: ...
def _confirmed(kind: str, object_id_: str, **params: Any) -> Any:
    """The object as Stripe has it now, fetched by id; ``NotConfirmed`` when Stripe does not know it."""
    import stripe

    service = getattr(client().v1, kind)
    try:
        return service.retrieve(object_id_, params=params or None)
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise NotConfirmed(f"Stripe does not know {kind.rstrip('s').replace('_', ' ')} {object_id_}: "
                               f"nothing was booked") from exc
        raise


@_stripe_errors
def dispute_movements(dispute_id: str) -> list[DisputeMovement]:
    """Each balance transaction of a dispute, as Stripe lists them (in full: the field cannot be expanded):
    the withdrawal when it opens, a reinstatement if it is won."""
    dispute = _confirmed("disputes", dispute_id)
    return [DisputeMovement(balance_transaction_id=txn.id, dispute_id=dispute.id, charge_id=object_id(dispute.charge),
                            amount_cents=int(txn.amount), fee_cents=int(txn.fee or 0),
                            currency=str(txn.currency or dispute.currency).upper(), at=_moment(txn.created),
                            status=dispute.status)
            for txn in dispute.balance_transactions]


@_stripe_errors
def payout_fact(payout_id: str, *, with_lines: bool = False) -> PayoutFact:
    """A payout as Stripe has it; ``with_lines``: and the balance transactions it carried (an automatic payout's;
    Stripe does not list a manual one's)."""
    payout = _confirmed("payouts", payout_id)
    lines = payout_lines(payout.id) if with_lines and payout.automatic else None
    return PayoutFact(payout_id=payout.id, amount_cents=int(payout.amount), currency=str(payout.currency).upper(),
                      day=_day(payout.arrival_date or payout.created), status=payout.status or "", lines=lines)


def payout_lines(payout_id: str, api: Any = None) -> tuple[PayoutLine, ...]:
    """The balance transactions an automatic payout carried (not its own), as Stripe lists them."""
    listing = (api or client().v1).balance_transactions.list(params={"payout": payout_id, "limit": 100})
    return tuple(PayoutLine(type=str(txn.type), source_id=object_id(txn.source), amount_cents=int(txn.amount),
                            fee_cents=int(txn.fee or 0), transaction_id=str(txn.id))
                 for txn in listing.auto_paging_iter() if txn.type not in ("payout", "payout_failure"))


@_stripe_errors
def cancel_subscription(subscription_id: str) -> None:
    """End a monthly gift at Stripe now; an already-ended one is fine."""
    import stripe

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

    def parts(kind: str) -> list[dict[str, Any]]:
        found = balance.get(kind) or []
        return found if isinstance(found, list) else [found]

    amounts = [int(part["amount"]) for kind in ("available", "pending") for part in parts(kind)
               if str(part.get("currency", "")).upper() == currency.upper()]
    return sum(amounts) if amounts else None


def _listed_since(kind: str, since: datetime) -> list[dict[str, Any]]:
    """Every object of ``kind`` created after ``since`` (filtered here: the local server has no ``created``
    filter on these lists); none if the server has no such list (the local server has no disputes)."""
    import stripe

    try:
        listing = getattr(client().v1, kind).list(params={"limit": 100})
        return [_plain(obj) for obj in listing.auto_paging_iter() if obj.created > since.timestamp()]
    except (stripe.InvalidRequestError, stripe.APIError) as exc:
        if exc.http_status != 404:
            raise
        return []


@_stripe_errors
def payouts_since(since: datetime) -> list[PayoutFact]:
    return [payout_fact(payout["id"]) for payout in _listed_since("payouts", since)]


@_stripe_errors
def dispute_ids_since(since: datetime) -> list[str]:
    return [dispute["id"] for dispute in _listed_since("disputes", since)]


# --- monthly gifts and checkouts: what is not money, still fetched back ------------------------------


@_stripe_errors
def unpaid_invoice(invoice_id: str) -> InvoiceUnpaid | None:
    """A monthly gift's invoice that Stripe could not collect; None if it is paid (or void) by now."""
    invoice = _confirmed("invoices", invoice_id)
    if invoice.status != "open":
        return None
    details = invoice.parent.subscription_details if invoice.parent is not None else None
    return InvoiceUnpaid(invoice_id=invoice.id,
                         subscription_id=object_id(details.subscription) if details is not None else None,
                         amount_cents=int(invoice.amount_due), currency=str(invoice.currency).upper(),
                         pay_url=invoice.hosted_invoice_url)


@_stripe_errors
def subscription_status(subscription_id: str) -> str:
    """The subscription's status now ("active", "past_due", "canceled", "incomplete_expired" ...)."""
    return str(_confirmed("subscriptions", subscription_id).status)


@_stripe_errors
def payment_status(payment_intent_id: str) -> str:
    """A payment intent's status now ("processing" while a bank debit settles, "succeeded", "canceled" ...)."""
    return str(_confirmed("payment_intents", payment_intent_id).status)
