"""Local mode only: paying with a test card and deciding a test dispute on the local Stripe server, which has no
hosted page and no dashboard to do it with."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fundapp.payments.gateway import PaymentFailed, _stripe_errors, client, local_mode
from fundapp.payments.local_mode import LocalModeUnsafe

if TYPE_CHECKING:
    from stripe.params import PaymentMethodCreateParamsBillingDetails


@dataclass(frozen=True)
class TestPayment:
    status: str  # "succeeded", "processing", "requires_action"
    payment_intent_id: str | None
    subscription_id: str | None = None


@_stripe_errors
def pay_with_test_card(*, card_number: str, exp_month: int, exp_year: int, cvc: str, amount_cents: int,
                       currency: str, monthly: bool, metadata: dict[str, str], email: str, name: str, description: str,
                       idempotency_key: str, billing_address: dict[str, str] | None = None) -> TestPayment:
    """Local mode's stand-in for Checkout: pay through the Stripe API with a Stripe test card.

    Only for the local Stripe server (it accepts raw test card numbers, as Stripe's own test mode
    does not through the API). The same webhooks follow as after a real Checkout.
    """
    import stripe

    if not local_mode():
        raise LocalModeUnsafe("test card payments exist only in local mode")
    api = client().v1
    try:
        billing: PaymentMethodCreateParamsBillingDetails = {"email": email, "name": name}
        if billing_address is not None:  # a large gift: what Checkout's billing_address_collection asks
            billing["address"] = {"line1": billing_address["line1"], "city": billing_address["city"],
                                  "state": billing_address["state"], "postal_code": billing_address["postal_code"],
                                  "country": billing_address["country"]}
        method = api.payment_methods.create(params={
            "type": "card", "billing_details": billing,
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


@_stripe_errors
def decide_test_dispute(dispute_id: str, won: bool) -> str:
    """Local mode: submit Stripe's test evidence that wins or loses a dispute; returns its new status."""
    if not local_mode():
        raise LocalModeUnsafe("test disputes are decided only in local mode")
    text = "winning_evidence" if won else "losing_evidence"
    return str(client().v1.disputes.update(dispute_id, params={"evidence": {"uncategorized_text": text}}).status)
